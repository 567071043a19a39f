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
        func weights(_ n: Int) -> [Int32] {
            var w = [Int32](repeating: 0, count: n)
            for _ in 0 ..< n { w[random.index(below: n)] += 1 }
            return w
        }
        let n = points.count
        sampleWeights = (0 ..< replicates).map { _ in weights(n) }
        referenceWeights = (0 ..< replicates).map { _ in weights(n) }
        reference = Self.sortedProjections(points.values.map(Double.init), dimension: points.dimension, directions: directions)
    }

    /// The distance of `sample` (as many points as the reference) with unit weights, and its value on each replicate.
    public func distances(_ sample: PointSet) -> (estimate: Double, replicates: [Double]) {
        precondition(sample.count == count && sample.dimension == dimension,
                     "SlicedWassersteinBootstrap: \(sample.count) points of dimension \(sample.dimension), expected \(count) of \(dimension)")
        let projected = Self.sortedProjections(sample.values.map(Double.init), dimension: dimension, directions: directions)
        let ones = [Int32](repeating: 1, count: count)
        let estimate = distance(projected, ones, ones)
        let values = parallelMap(replicates) { r in self.distance(projected, self.sampleWeights[r], self.referenceWeights[r]) }
        return (estimate, values)
    }

    /// The root mean over directions of the weighted W2^2 between the sample's and the reference's projections.
    /// (The study calls it 200 times a configuration over 32 directions of 16384 points: it runs on buffer pointers
    /// and merges cumulative weights without data-dependent branches, `cumulativeSquaredW2`.)
    func distance(_ projected: [SortedProjection], _ sampleWeights: [Int32], _ referenceWeights: [Int32]) -> Double {
        var total = 0.0
        var a = [Int32](repeating: 0, count: count), b = [Int32](repeating: 0, count: count)
        sampleWeights.withUnsafeBufferPointer { ws in
            referenceWeights.withUnsafeBufferPointer { wr in
                a.withUnsafeMutableBufferPointer { a in
                    b.withUnsafeMutableBufferPointer { b in
                        for l in 0 ..< projections {
                            let sample = projected[l], other = reference[l]
                            sample.order.withUnsafeBufferPointer { so in
                                other.order.withUnsafeBufferPointer { ro in
                                    var (sa, sb) = (Int32(0), Int32(0))
                                    for k in 0 ..< count {
                                        sa &+= ws[Int(so[k])]; a[k] = sa
                                        sb &+= wr[Int(ro[k])]; b[k] = sb
                                    }
                                }
                            }
                            total += sample.values.withUnsafeBufferPointer { sv in
                                other.values.withUnsafeBufferPointer { rv in
                                    Self.cumulativeSquaredW2(sv, UnsafeBufferPointer(a), rv, UnsafeBufferPointer(b))
                                }
                            }
                        }
                    }
                }
            }
        }
        return (total / Double(projections)).squareRoot()
    }

    /// `weightedSquaredW2` from cumulative weights (`ca[i]` = the weights of `a[0...i]`, equal totals): mass from the
    /// last breakpoint to the next is matched between the current points, and whichever side's breakpoint it reached
    /// moves on. Zero weights add empty chunks (0 x d^2), so the sum is the same chunks in the same order, bit for bit.
    static func cumulativeSquaredW2(_ a: UnsafeBufferPointer<Double>, _ ca: UnsafeBufferPointer<Int32>, _ b: UnsafeBufferPointer<Double>,
                                    _ cb: UnsafeBufferPointer<Int32>) -> Double {
        var (i, j) = (0, 0)
        var position = Int32(0), sum = 0.0
        while i < a.count && j < b.count {
            let (x, y) = (ca[i], cb[j])
            let next = Swift.min(x, y), d = a[i] - b[j]
            sum += Double(next - position) * d * d
            position = next
            i += x == next ? 1 : 0
            j += y == next ? 1 : 0
        }
        return sum / Double(Swift.max(Int(position), 1))
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
