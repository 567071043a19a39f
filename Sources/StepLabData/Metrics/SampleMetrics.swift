/// Distances between two samples of points, of any dimension, computed on the host in Double: sliced
/// Wasserstein-2 (`SlicedWasserstein`), MMD^2 with a multi-bandwidth RBF kernel and energy distance (`PairwiseDiscrepancy`). Report them beside `noiseFloor`, the same
/// metrics between two independent reference samples: a model is as good as the data allow when its numbers
/// reach that floor.
///
/// Large samples are cut to a random subset (the same for every call with the same seed and count), so a
/// metric's cost is bounded: `pairwiseCap` points per set for the O(n^2) MMD and energy distance,
/// `slicedCap` for the O(n log n) per-projection sorts. Every result is a pure function of the inputs and
/// `seed`.
public struct SampleMetrics: Sendable {
    /// Random directions of the sliced Wasserstein distance.
    public var projections: Int
    /// Seeds the subsets and the directions.
    public var seed: UInt64
    /// At most this many points of each set enter the sliced Wasserstein distance.
    public var slicedCap: Int
    /// At most this many points of each set enter MMD and the energy distance.
    public var pairwiseCap: Int

    /// Metrics with these settings. With the defaults a release build on 2 cores reports on two 2048-point 2-D
    /// sets in about 0.15 s, and on two 100000-point sets (capped) in under a second.
    public init(projections: Int = 256, seed: UInt64 = 0, slicedCap: Int = 16384, pairwiseCap: Int = 2048) {
        self.projections = projections
        self.seed = seed
        self.slicedCap = slicedCap
        self.pairwiseCap = pairwiseCap
    }

    /// All three distances between `sample` and `reference`.
    public func report(sample: PointSet, reference: PointSet) throws(DataError) -> MetricReport {
        let swd = try slicedWasserstein(sample, reference)
        let (mmd, energy) = try pairwise(sample, reference)
        return MetricReport(swd: swd, mmd: mmd, energy: energy, count: sample.count)
    }

    /// The same metrics between two independent draws of `reference()`: the values a perfect model would
    /// score, up to sampling noise.
    public func noiseFloor(reference: () throws -> PointSet) throws -> MetricReport {
        let first = try reference(), second = try reference()
        return try report(sample: first, reference: second)
    }

    /// Sliced Wasserstein-2 distance over `projections` random directions.
    public func slicedWasserstein(_ a: PointSet, _ b: PointSet) throws(DataError) -> Double {
        try check(a, b, minimum: 1)
        return SlicedWasserstein.distance(shuffledPrefix(a, cap: slicedCap, seed: seed),
                                          shuffledPrefix(b, cap: slicedCap, seed: seed),
                                          dimension: a.dimension, projections: projections, seed: seed ^ Self.directionSeed)
    }

    /// Unbiased MMD^2 (Gretton et al. 2012) with the mean of five RBF kernels whose bandwidths are
    /// {1/4, 1/2, 1, 2, 4} x the median distance between points of the pooled sample.
    public func mmd(_ a: PointSet, _ b: PointSet) throws(DataError) -> Double {
        try pairwise(a, b).mmd
    }

    /// Keeps the directions' generator apart from the subsets' one (SplitMix64 seeds that differ by a multiple
    /// of its increment would give shifted copies of one sequence).
    static let directionSeed: UInt64 = 0xD1B5_4A32_D192_ED03

    private func pairwise(_ a: PointSet, _ b: PointSet) throws(DataError) -> (mmd: Double, energy: Double) {
        try check(a, b, minimum: 2)
        return PairwiseDiscrepancy.compute(shuffledPrefix(a, cap: pairwiseCap, seed: seed),
                                           shuffledPrefix(b, cap: pairwiseCap, seed: seed), dimension: a.dimension)
    }

    private func check(_ a: PointSet, _ b: PointSet, minimum: Int) throws(DataError) {
        guard projections >= 1, slicedCap >= 2, pairwiseCap >= 2 else {
            throw DataError("metrics: need projections >= 1 and caps >= 2 (got \(projections), \(slicedCap), \(pairwiseCap))")
        }
        guard a.dimension == b.dimension else {
            throw DataError("metrics: cannot compare points of dimension \(a.dimension) with points of dimension \(b.dimension)")
        }
        guard a.count >= minimum, b.count >= minimum else {
            throw DataError("metrics: need at least \(minimum) points in each set (got \(a.count) and \(b.count))")
        }
    }
}
