import Foundation
import StepLabEngine
import StepLabTestSupport
import Testing
@testable import StepLabData

/// Bootstrap intervals on made-up numbers with known answers, and the paired sliced-Wasserstein resamples.
@Suite struct BootstrapTests {
    /// The mean of 10000 draws of N(3, 1): the 95% interval is 3 ± 1.96 / 100 up to the draws' own error.
    @Test func meanIntervalMatchesTheNormalTheory() {
        var random = TestRandom(seed: 11)
        let values = (0 ..< 10000).map { _ in
            3 + Double((0 ..< 12).reduce(Float(0)) { sum, _ in sum + random.uniform(0, 1) } - 6)  // Irwin-Hall: mean 0, variance 1
        }
        let interval = Bootstrap.meanInterval(values, seed: 1)
        let mean = values.reduce(0, +) / Double(values.count)
        #expect(abs(interval.estimate - mean) < 1e-12)
        let halfWidth = (interval.upper - interval.lower) / 2
        #expect(abs(halfWidth - 0.0196) < 0.002, "half-width \(halfWidth)")
        #expect(interval.lower < 3 && interval.upper > 3 && interval.excludesZero)
        #expect(abs((interval.lower + interval.upper) / 2 - mean) < 0.002)
    }

    /// Groups without within-group spread reduce to resampling the groups; identical groups give a point.
    @Test func groupedIntervalResamplesGroupsThenReplicates() {
        let same = Bootstrap.groupedMeanInterval(estimates: [2, 2, 2], within: [[2, 2], [2], [2, 2, 2]], seed: 3)
        #expect(same.lower == 2 && same.upper == 2 && same.estimate == 2)
        // Two groups at 0 and 1 with no inner spread: the mean of two draws is 0, 0.5 or 1, with 1/4, 1/2, 1/4.
        let two = Bootstrap.groupedMeanInterval(estimates: [0, 1], within: [[0], [1]], replicates: 4000, seed: 5)
        #expect(two.estimate == 0.5 && two.lower == 0 && two.upper == 1)
        // Inner spread alone: one group whose replicates are 0 ... 99 gives their 2.5% and 97.5% quantiles.
        let inner = Bootstrap.groupedMeanInterval(estimates: [49.5], within: [(0 ..< 100).map(Double.init)], replicates: 20000, seed: 7)
        #expect(abs(inner.lower - 2.5) < 1.5 && abs(inner.upper - 96.5) < 1.5, "\(inner)")
    }

    /// The jackknife's standard error of a mean is the textbook s / sqrt(n), and 0.95 maps to z = 1.96.
    @Test func jackknifeOfTheMeanIsTheStandardError() {
        let values: [Double] = [2, 4, 4, 4, 5, 5, 7, 9]
        let n = Double(values.count), mean = values.reduce(0, +) / n
        let s = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot()
        let interval = Bootstrap.jackknifeInterval(count: values.count) { picked in picked.reduce(0) { $0 + values[$1] } / Double(picked.count) }
        #expect(abs(Bootstrap.normalQuantile(0.975) - 1.959964) < 1e-6)
        #expect(abs(interval.estimate - 5) < 1e-12)
        #expect(abs((interval.upper - interval.estimate) - 1.959964 * s / n.squareRoot()) < 1e-6, "\(interval)")
    }

    @Test func weightedW2MatchesMassByMass() {
        // Mass 2 at 0 against mass 1 at 0 and 1 at 1: one unit moves by 1, over a total of 2.
        #expect(SlicedWassersteinBootstrap.weightedSquaredW2([0, 1], [2, 0], [0, 1], [1, 1]) == 0.5)
        #expect(SlicedWassersteinBootstrap.weightedSquaredW2([0, 1, 5], [1, 1, 1], [0, 1, 5], [1, 1, 1]) == 0)
        #expect(SlicedWassersteinBootstrap.weightedSquaredW2([0, 2], [1, 1], [1, 3], [1, 1]) == 1)
    }

    /// The resamples' merge over cumulative weights gives the mass-by-mass merge's value bit for bit, with zero
    /// weights (points a resample left out) at the ends and inside.
    @Test func theCumulativeMergeEqualsTheMassByMassOne() {
        var random = HostRandom(seed: 4)
        for n in [1, 2, 7, 100, 1000] {
            let a = (0 ..< n).map { _ in random.gaussian() }.sorted(), b = (0 ..< n).map { _ in 2 * random.gaussian() }.sorted()
            func weights() -> [Int32] {
                var w = [Int32](repeating: 0, count: n)
                for _ in 0 ..< n { w[random.index(below: n)] += 1 }
                return w
            }
            let (wa, wb) = (weights(), weights())
            let cumulative = { (w: [Int32]) in w.reduce(into: [Int32]()) { $0.append(($0.last ?? 0) + $1) } }
            let (ca, cb) = (cumulative(wa), cumulative(wb))
            let merged = a.withUnsafeBufferPointer { a in
                ca.withUnsafeBufferPointer { ca in
                    b.withUnsafeBufferPointer { b in cb.withUnsafeBufferPointer { cb in
                        SlicedWassersteinBootstrap.cumulativeSquaredW2(a, ca, b, cb) } }
                }
            }
            #expect(merged.bitPattern == SlicedWassersteinBootstrap.weightedSquaredW2(a, wa, b, wb).bitPattern, "n = \(n)")
            // Two replicates merged in one loop give each one's value alone, whichever runs out first.
            let (wc, wd) = (weights(), weights())
            let (cc, cd) = (cumulative(wc), cumulative(wd))
            let paired = a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    ca.withUnsafeBufferPointer { ca in cb.withUnsafeBufferPointer { cb in
                        cc.withUnsafeBufferPointer { cc in cd.withUnsafeBufferPointer { cd in
                            SlicedWassersteinBootstrap.cumulativeSquaredW2(a, b, (ca, cb), (cc, cd)) } } } }
                }
            }
            #expect(paired.0.bitPattern == merged.bitPattern, "n = \(n)")
            #expect(paired.1.bitPattern == SlicedWassersteinBootstrap.weightedSquaredW2(a, wc, b, wd).bitPattern, "n = \(n)")
        }
    }

    /// Unit weights give the plain sliced Wasserstein distance; a shifted model is resolved from the reference-like
    /// one, and two draws of the data are not.
    @Test func pairedResamplesResolveRealDifferencesOnly() {
        let reference = ToyDataset.eightGaussians.points(count: 2000, key: .init(seed: 1))
        let bootstrap = SlicedWassersteinBootstrap(reference: reference, projections: 32, replicates: 200, seed: 9)
        let good = ToyDataset.eightGaussians.points(count: 2000, key: .init(seed: 2))
        let alsoGood = ToyDataset.eightGaussians.points(count: 2000, key: .init(seed: 3))
        let shifted = PointSet(count: good.count, dimension: 2, values: good.values.map { $0 + 0.15 })
        let plain = SlicedWasserstein.distance(good.values.map(Double.init), reference.values.map(Double.init), dimension: 2,
                                               projections: 32, seed: 9 ^ 0x5EED_B007)
        let (estimate, replicates) = bootstrap.distances(good)
        #expect(abs(estimate - plain) < 1e-12 && replicates.count == 200)
        func difference(_ a: PointSet, _ b: PointSet) -> ConfidenceInterval {
            let (x, y) = (bootstrap.distances(a), bootstrap.distances(b))
            return Bootstrap.groupedMeanInterval(estimates: [x.estimate - y.estimate], within: [zip(x.replicates, y.replicates).map { $0 - $1 }],
                                                 seed: 4)
        }
        #expect(difference(shifted, good).lower > 0)
        #expect(!difference(alsoGood, good).excludesZero)
        let same = difference(good, good)
        #expect(same.lower == 0 && same.upper == 0)
    }
}
