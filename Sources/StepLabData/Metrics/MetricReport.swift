/// The distances between a sample and a reference sample that `SampleMetrics.report` computes; smaller is
/// closer. Compare them with the same metrics between two reference samples (`SampleMetrics.noiseFloor`).
public struct MetricReport: Codable, Sendable, Equatable {
    /// Sliced Wasserstein-2 distance, in the data's units.
    public var swd: Double
    /// Unbiased estimate of the squared MMD under the multi-bandwidth RBF kernel; it can be slightly negative
    /// when the distributions agree.
    public var mmd: Double
    /// Energy distance `2 E|X - Y| - E|X - X'| - E|Y - Y'|` (unbiased estimate; can be slightly negative).
    public var energy: Double
    /// Points in the sample (before any subsampling).
    public var count: Int

    /// A report with these values.
    public init(swd: Double, mmd: Double, energy: Double, count: Int) {
        self.swd = swd
        self.mmd = mmd
        self.energy = energy
        self.count = count
    }
}
