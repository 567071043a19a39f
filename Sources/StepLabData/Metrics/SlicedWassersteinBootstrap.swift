import StepLabEngine

/// Bootstrap replicates of the sliced Wasserstein distance (`SlicedWasserstein`) of samples against one reference
/// set of the same size, paired across models: replicate r resamples the sample indices and the reference indices
/// with replacement, and every model sees the same resample. When the models' samples come from the same starting
/// noise (sample i of every model from noise i), differences between two models' replicates are paired
/// differences, whose spread is far smaller than either distance's own.
///
/// A resample only changes how often each point counts, so each direction's projections are sorted once and a
/// replicate is a linear walk matching the two weighted quantile functions; unit weights give the plain distance.
public struct SlicedWassersteinBootstrap: Sendable {
    public let count: Int
    public let dimension: Int
    public let projections: Int
    let directions: [Double]
    /// Per replicate, how often each sample index and each reference index is drawn.
    let sampleWeights: [[Int32]], referenceWeights: [[Int32]]
    /// The reference's projections, sorted, and each sorted position's reference index, per direction.
    let reference: [SortedProjection]

    /// One direction's projections in ascending order, and each sorted position's point index.
    struct SortedProjection {
        let values: [Double]
        let order: [Int32]
    }

    public var replicates: Int { sampleWeights.count }

    /// `projections` directions and `replicates` resamples drawn from `seed`, against `reference`.
    public init(reference points: PointSet, projections: Int = 64, replicates: Int = 200, seed: UInt64) {
        precondition(points.count >= 2 && projections >= 1 && replicates >= 1, "SlicedWassersteinBootstrap: too few points, directions or replicates")
        count = points.count
        dimension = points.dimension
        self.projections = projections
        directions = SlicedWasserstein.directions(dimension: points.dimension, projections: projections, seed: seed ^ 0x5EED_B007)
        var random = HostRandom(seed: seed)
        sampleWeights = resampleCounts(count: points.count, replicates: replicates, random: &random)
        referenceWeights = resampleCounts(count: points.count, replicates: replicates, random: &random)
        reference = Self.sortedProjections(points.values.map(Double.init), dimension: points.dimension, directions: directions)
    }

    /// The distance of `sample` (as many points as the reference) with unit weights, and its value on each replicate.
    public func distances(_ sample: PointSet) -> (estimate: Double, replicates: [Double]) {
        precondition(sample.count == count && sample.dimension == dimension,
                     "SlicedWassersteinBootstrap: \(sample.count) points of dimension \(sample.dimension), expected \(count) of \(dimension)")
        let projected = Self.sortedProjections(sample.values.map(Double.init), dimension: dimension, directions: directions)
        let ones = [Int32](repeating: 1, count: count)
        let estimate = distances(projected, [(ones, ones)])[0]
        // Two replicates at a time: their merges are independent chains of loads, which a core overlaps.
        let pairs = parallelMap((replicates + 1) / 2) { p in
            self.distances(projected, (2 * p ..< Swift.min(2 * p + 2, self.replicates)).map { (self.sampleWeights[$0], self.referenceWeights[$0]) })
        }
        return (estimate, pairs.flatMap { $0 })
    }

    /// For one or two pairs of weights (the sample's, the reference's), the root mean over directions of the weighted
    /// W2^2 between the sample's and the reference's projections. (The study calls it 100 times a configuration for
    /// 200 replicates over 32 directions of 16384 points: it runs on buffer pointers and merges cumulative weights
    /// without data-dependent branches, `cumulativeSquaredW2`.)
    func distances(_ projected: [SortedProjection], _ weights: [(sample: [Int32], reference: [Int32])]) -> [Double] {
        precondition(weights.count == 1 || weights.count == 2, "SlicedWassersteinBootstrap: one or two replicates at a time")
        var totals = [Double](repeating: 0, count: weights.count)
        var cumulative = [Int32](repeating: 0, count: 4 * count)
        cumulative.withUnsafeMutableBufferPointer { storage in
            // Replicate w's cumulative sample weights in the sorted order at 2w, its reference's at 2w + 1.
            let (buffer, n) = (storage, count)
            let part = { (i: Int) in UnsafeMutableBufferPointer(rebasing: buffer[i * n ..< (i + 1) * n]) }
            for l in 0 ..< projections {
                let sample = projected[l], other = reference[l]
                for (w, pair) in weights.enumerated() {
                    Self.accumulate(pair.sample, in: sample.order, into: part(2 * w))
                    Self.accumulate(pair.reference, in: other.order, into: part(2 * w + 1))
                }
                sample.values.withUnsafeBufferPointer { sv in
                    other.values.withUnsafeBufferPointer { rv in
                        let c = (0 ..< 2 * weights.count).map { UnsafeBufferPointer(part($0)) }
                        if weights.count == 1 {
                            totals[0] += Self.cumulativeSquaredW2(sv, c[0], rv, c[1])
                        } else {
                            let (first, second) = Self.cumulativeSquaredW2(sv, rv, (c[0], c[1]), (c[2], c[3]))
                            totals[0] += first
                            totals[1] += second
                        }
                    }
                }
            }
        }
        return totals.map { ($0 / Double(projections)).squareRoot() }
    }

    /// `cumulative[k]` = the weights of the points at sorted positions 0 ... k (`order` maps a position to its point).
    static func accumulate(_ weights: [Int32], in order: [Int32], into cumulative: UnsafeMutableBufferPointer<Int32>) {
        weights.withUnsafeBufferPointer { w in
            order.withUnsafeBufferPointer { o in
                var sum = Int32(0)
                for k in o.indices {
                    sum &+= w[Int(o[k])]
                    cumulative[k] = sum
                }
            }
        }
    }

    /// Two replicates' `cumulativeSquaredW2` over the same values in one loop, each merge exactly as alone (so the
    /// same value bit for bit), while both have mass left; the longer one then finishes alone.
    static func cumulativeSquaredW2(_ a: UnsafeBufferPointer<Double>, _ b: UnsafeBufferPointer<Double>,
                                    _ first: (UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Int32>),
                                    _ second: (UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Int32>)) -> (Double, Double) {
        var m1 = Merge(), m2 = Merge()
        while m1.hasMass(a, b) && m2.hasMass(a, b) {
            m1.step(a, first.0, b, first.1)
            m2.step(a, second.0, b, second.1)
        }
        while m1.hasMass(a, b) { m1.step(a, first.0, b, first.1) }
        while m2.hasMass(a, b) { m2.step(a, second.0, b, second.1) }
        return (m1.value, m2.value)
    }

    /// The state of one merge over cumulative weights (`cumulativeSquaredW2`).
    struct Merge {
        var i = 0, j = 0
        var position = Int32(0), sum = 0.0

        /// Whether both sides still have points to match.
        @inline(__always)
        func hasMass(_ a: UnsafeBufferPointer<Double>, _ b: UnsafeBufferPointer<Double>) -> Bool { i < a.count && j < b.count }

        @inline(__always)
        mutating func step(_ a: UnsafeBufferPointer<Double>, _ ca: UnsafeBufferPointer<Int32>, _ b: UnsafeBufferPointer<Double>,
                           _ cb: UnsafeBufferPointer<Int32>) {
            let (x, y) = (ca[i], cb[j])
            let next = Swift.min(x, y), d = a[i] - b[j]
            sum += Double(next - position) * d * d
            position = next
            i += x == next ? 1 : 0
            j += y == next ? 1 : 0
        }

        var value: Double { sum / Double(Swift.max(Int(position), 1)) }
    }

    /// `weightedSquaredW2` from cumulative weights (`ca[i]` = the weights of `a[0...i]`, equal totals): mass from the
    /// last breakpoint to the next is matched between the current points, and whichever side's breakpoint it reached
    /// moves on. Zero weights add empty chunks (0 x d^2), so the sum is the same chunks in the same order, bit for bit.
    static func cumulativeSquaredW2(_ a: UnsafeBufferPointer<Double>, _ ca: UnsafeBufferPointer<Int32>, _ b: UnsafeBufferPointer<Double>,
                                    _ cb: UnsafeBufferPointer<Int32>) -> Double {
        var merge = Merge()
        while merge.hasMass(a, b) { merge.step(a, ca, b, cb) }
        return merge.value
    }

    /// W2^2 between two sorted 1-D samples whose points carry integer weights of equal totals: the quantile
    /// functions matched mass unit by mass unit, divided by the total. The plain statement of what `cumulativeSquaredW2` computes, which the
    /// tests hold it to.
    static func weightedSquaredW2(_ a: [Double], _ wa: [Int32], _ b: [Double], _ wb: [Int32]) -> Double {
        var (i, j) = (0, 0)
        var (ra, rb) = (wa[0], wb[0])
        var sum = 0.0, total = 0
        while i < a.count && j < b.count {
            if ra == 0 { i += 1; if i < a.count { ra = wa[i] }; continue }
            if rb == 0 { j += 1; if j < b.count { rb = wb[j] }; continue }
            let w = Swift.min(ra, rb), d = a[i] - b[j]
            sum += Double(w) * d * d
            total += Int(w)
            ra -= w; rb -= w
        }
        return sum / Double(Swift.max(total, 1))
    }

    static func sortedProjections(_ points: [Double], dimension d: Int, directions: [Double]) -> [SortedProjection] {
        parallelMap(directions.count / d) { l in
            let projected = SlicedWasserstein.project(points, directions[l * d ..< (l + 1) * d])
            let order = RadixSort.order(projected)
            return SortedProjection(values: order.map { projected[Int($0)] }, order: order)
        }
    }
}
