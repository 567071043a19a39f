/// The built-in 2-D toy data sets. Each is drawn on the device by `Engine.sample(_:into:key:)`
/// (`Kernels/datasets.cl`) and on the host by `sampleOnHost(count:key:)`, which gives the same points up to the
/// rounding of `sin`, `cos`, `log` and `sqrt`. Point `i` of a draw uses only Philox words `4i ..< 4i + 4` of
/// `key` (see `RandomKey`), so it depends on the key and `i` alone.
///
/// The constructions follow the toy sets of FFJORD (Grathwohl et al. 2019, `lib/toy_data.py`) and
/// scikit-learn, with the changes noted per case. `z` below is a pair of N(0, 1) noise values (Box-Muller),
/// `u` a uniform in (0, 1), and `B` a fair bit. Box-Muller's `|z|` never exceeds about 5.77, which makes the
/// ranges below hard bounds, not just likely ones.
public enum ToyDataset: String, CaseIterable, Sendable, Codable {
    /// Eight equally weighted isotropic Gaussians with std 0.1 centred at `2 (cos(k pi/4), sin(k pi/4))`,
    /// `k = 0 ..< 8`: the reference training workload's data (bench/kernels/TrainStepBench.swift). Coordinates lie in
    /// [-2.6, 2.6].
    case eightGaussians = "eight-gaussians"
    /// scikit-learn's `make_moons` with noise 0.05: the upper moon `(cos t, sin t)` and the lower moon
    /// `(1 - cos t, 1/2 - sin t)`, `t = pi u`, picked by `B`, plus `0.05 z`; then centred on (0.5, 0.25) and
    /// scaled by 1.5, so the per-axis std is about (1.30, 0.75). x lies in [-2.7, 2.7], y in [-1.6, 1.6].
    case twoMoons = "two-moons"
    /// FFJORD's checkerboard on [-2, 2]^2 (not scaled by 2): `x1 = 4u - 2`,
    /// `x2 = u' - 2B + (floor(x1) mod 2)`, so points fill the 8 squares whose `floor(x1) + floor(x2)` is even,
    /// uniformly, strictly inside (the uniforms sit on a 2^-23 grid that never reaches an edge).
    case checkerboard
    /// scikit-learn's `make_swiss_roll` with noise 1, keeping (x, z) and dividing by 5 as FFJORD does:
    /// `t = 1.5 pi (1 + 2u)`, point `(t cos t + z1, t sin t + z2) / 5`. Every coordinate lies in [-4, 4].
    case swissRoll = "swiss-roll"
    /// Two interleaved spirals after FFJORD's `2spirals`: angle `s = 3 pi sqrt(u)` (up to 540 degrees),
    /// arm one at `(-cos s, sin s) s / 3`, arm two its negation (picked by `B`), plus `0.1 z`. FFJORD's extra
    /// U(0, 0.5) jitter, which also moves the arms off-centre, is left out. Every coordinate lies in
    /// [-3.75, 3.75].
    case spirals

    /// The mixture's component means and their common isotropic std, where the data set is a Gaussian mixture
    /// with equal weights (its score is then analytic); nil otherwise.
    public var gaussianMixture: (means: [[Float]], std: Float)? {
        switch self {
        case .eightGaussians:
            return (ToyPoints.eightCentres.map { [$0.x, $0.y] }, ToyPoints.eightStd)
        case .twoMoons, .checkerboard, .swissRoll, .spirals:
            return nil
        }
    }

    /// The name of the kernel in `datasets.cl` that draws this set.
    var kernelName: String {
        switch self {
        case .eightGaussians: "eight_gaussians"
        case .twoMoons: "two_moons"
        case .checkerboard: "checkerboard"
        case .swissRoll: "swiss_roll"
        case .spirals: "spirals"
        }
    }
}
