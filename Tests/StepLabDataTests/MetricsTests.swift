import Foundation
import StepLabTestSupport
import Testing
import StepLabData
import StepLabEngine

/// The metrics on samples with known answers. Seeds are fixed, so every check is deterministic; the bounds
/// come from the noise floors measured on these sizes (see each test) with a wide margin.
@Suite struct MetricsTests {
    static let metrics = SampleMetrics()

    /// `count` points of N(mean, I) in `dimension` dimensions.
    static func gaussian(_ count: Int, dimension: Int = 1, mean: [Float] = [0], seed: UInt64) -> PointSet {
        var values = Reference.normal(count: count * dimension, key: RandomKey(seed: seed, stream: 77))
        for k in values.indices { values[k] += mean[k % dimension] }
        return PointSet(count: count, dimension: dimension, values: values)
    }

    static func eightGaussians(_ count: Int, seed: UInt64) -> PointSet {
        ToyDataset.eightGaussians.points(count: count, key: RandomKey(seed: seed))
    }

    /// `points` with `f(value, coordinate)` applied to every value.
    static func transformed(_ points: PointSet, _ f: (Float, Int) -> Float) -> PointSet {
        PointSet(count: points.count, dimension: points.dimension,
                 values: points.values.enumerated().map { f($1, $0 % points.dimension) })
    }

    /// Two 1024-point eight-gaussians samples score swd ~0.11-0.19, |mmd| < 5e-4, |energy| < 4e-3 (measured
    /// over seeds); a shift of 0.5 or a 25% scaling moves every metric well past those floors.
    @Test func sameDistributionStaysAtTheFloorShiftOrScaleRisesAboveIt() throws {
        let a = Self.eightGaussians(1024, seed: 1), b = Self.eightGaussians(1024, seed: 2)
        let same = try Self.metrics.report(sample: a, reference: b)
        #expect(same.swd < 0.25 && abs(same.mmd) < 1.5e-3 && abs(same.energy) < 0.01, "\(same)")
        #expect(same.count == 1024)
        for (what, moved) in [("shift", Self.transformed(a) { v, k in k == 0 ? v + 0.5 : v }),
                              ("scale", Self.transformed(a) { v, _ in v * 1.25 })] {
            let far = try Self.metrics.report(sample: moved, reference: b)
            #expect(far.swd > 0.35 && far.mmd > 5e-3 && far.energy > 0.04, "\(what): \(far)")
        }
    }

    /// In 1-D, W2(N(0, 1), N(mu, 1)) = |mu|, and every direction is +-1, so SWD estimates |mu|; the sampling
    /// error of the mean difference with 2000 points per side is 0.032. Unequal counts go through the quantile
    /// grid. In d dimensions, SW2 = |mu| / sqrt(d) (the mean of (theta . mu)^2 over the sphere is |mu|^2 / d).
    @Test func slicedWassersteinOfShiftedGaussiansIsTheShift() throws {
        for mu: Float in [1, 2] {
            let swd = try Self.metrics.slicedWasserstein(Self.gaussian(2000, seed: 1), Self.gaussian(2000, mean: [mu], seed: 2))
            #expect(abs(swd - Double(mu)) < 0.1 * Double(mu), "mu \(mu): swd \(swd)")
        }
        let unequal = try Self.metrics.slicedWasserstein(Self.gaussian(1000, seed: 3), Self.gaussian(3000, mean: [1], seed: 4))
        #expect(abs(unequal - 1) < 0.1, "1000 vs 3000 points: swd \(unequal)")
        let threeD = try Self.metrics.slicedWasserstein(Self.gaussian(1000, dimension: 3, mean: [0, 0, 0], seed: 5),
                                                        Self.gaussian(1000, dimension: 3, mean: [2, 0, 0], seed: 6))
        #expect(abs(threeD - 2 / 3.0.squareRoot()) < 0.1 * 2 / 3.0.squareRoot(), "3-D: swd \(threeD)")
    }

    @Test func symmetricAndZeroOnIdenticalSets() throws {
        let a = Self.eightGaussians(512, seed: 3), b = Self.eightGaussians(700, seed: 4)
        let ab = try Self.metrics.report(sample: a, reference: b), ba = try Self.metrics.report(sample: b, reference: a)
        #expect(abs(ab.mmd - ba.mmd) < 1e-12 && abs(ab.energy - ba.energy) < 1e-12 && abs(ab.swd - ba.swd) < 1e-12, "\(ab) vs \(ba)")
        let aa = try Self.metrics.report(sample: a, reference: a)
        #expect(abs(aa.mmd) < 1e-12 && abs(aa.energy) < 1e-12 && aa.swd == 0, "\(aa)")
    }

    @Test func aCloserDistributionScoresLower() throws {
        let a = Self.eightGaussians(512, seed: 5), b = Self.eightGaussians(512, seed: 6)
        let near = try Self.metrics.report(sample: Self.transformed(a) { v, k in k == 1 ? v + 0.2 : v }, reference: b)
        let far = try Self.metrics.report(sample: Self.transformed(a) { v, k in k == 1 ? v + 0.8 : v }, reference: b)
        #expect(near.swd < far.swd && near.mmd < far.mmd && near.energy < far.energy, "\(near) vs \(far)")
    }

    /// Subsampling makes big inputs cheap and keeps the result a function of the inputs and the seed.
    @Test func noiseFloorAndCapsAreSeededAndDeterministic() throws {
        let capped = SampleMetrics(seed: 3, slicedCap: 500, pairwiseCap: 400)
        var draws: UInt64 = 0
        let floor = try capped.noiseFloor { draws += 1; return Self.eightGaussians(3000, seed: draws) }
        #expect(draws == 2 && floor.count == 3000)
        let again = try capped.report(sample: Self.eightGaussians(3000, seed: 1), reference: Self.eightGaussians(3000, seed: 2))
        #expect(again == floor)
        let coded = try JSONDecoder().decode(MetricReport.self, from: JSONEncoder().encode(floor))
        #expect(coded == floor)
    }

    @Test func mismatchedOrTinySetsAreRefused() {
        expectDataError("dimension 2", "dimension 3") {
            _ = try Self.metrics.report(sample: Self.eightGaussians(10, seed: 1), reference: Self.gaussian(10, dimension: 3, mean: [0, 0, 0], seed: 1))
        }
        expectDataError("at least 2 points") {
            _ = try Self.metrics.mmd(Self.gaussian(1, seed: 1), Self.gaussian(10, seed: 2))
        }
        expectDataError("projections >= 1") {
            _ = try SampleMetrics(projections: 0).slicedWasserstein(Self.gaussian(5, seed: 1), Self.gaussian(5, seed: 2))
        }
    }
}
