import StepLabEngine

/// `count` points of dimension `dimension`, row-major: point `i` is `values[i * dimension ..< (i + 1) * dimension]`.
/// What the data files load into, the metrics compare and the toy sets produce on the host.
public struct PointSet: Sendable, Equatable {
    /// Number of points (rows).
    public var count: Int
    /// Coordinates per point (columns).
    public var dimension: Int
    /// The coordinates, row-major, `count * dimension` of them.
    public var values: [Float]

    /// Points from row-major `values`; their number must be `count * dimension`.
    public init(count: Int, dimension: Int, values: [Float]) {
        precondition(count >= 0 && dimension >= 1 && values.count == count * dimension,
                     "PointSet: \(values.count) values do not make \(count) points of dimension \(dimension)")
        self.count = count
        self.dimension = dimension
        self.values = values
    }

    /// The coordinates of point `i`.
    public subscript(point i: Int) -> ArraySlice<Float> {
        values[i * dimension ..< (i + 1) * dimension]
    }
}

extension PointSet {
    /// The points at `indices`, in that order.
    public func rows(_ indices: some Collection<Int>) -> PointSet {
        var picked: [Float] = []
        picked.reserveCapacity(indices.count * dimension)
        for i in indices { picked += self[point: i] }
        return PointSet(count: indices.count, dimension: dimension, values: picked)
    }

    /// `count` distinct points chosen uniformly with a generator seeded by `seed` (a partial Fisher-Yates
    /// shuffle), in the order drawn; all of them, in order, when `count >= self.count`.
    public func subsample(count: Int, seed: UInt64) -> PointSet {
        guard count < self.count else { return self }
        return rows(Self.shuffledIndices(self.count, seed: seed).prefix(count))
    }

    /// Two disjoint random halves of the points (one point is left out of an odd count), for a noise floor that
    /// compares the data with itself without overlap.
    public func disjointHalves(seed: UInt64) -> (PointSet, PointSet) {
        let order = Self.shuffledIndices(count, seed: seed), half = count / 2
        return (rows(order[..<half]), rows(order[half ..< 2 * half]))
    }

    /// `0 ..< n` in a seeded random order (Fisher-Yates with SplitMix64).
    public static func shuffledIndices(_ n: Int, seed: UInt64) -> [Int] {
        var random = HostRandom(seed: seed)
        var order = Array(0 ..< n)
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        return order
    }
}
