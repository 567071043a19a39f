import Foundation
import Testing
@testable import StepLabData
import StepLabEngine

/// The pieces behind the image study's intervals: eigenvalues without vectors, and the FD and KID bootstraps, each
/// against an independent computation (Jacobi, the plain FD of the resample written out row by row, MMD^2 from its
/// definition).
@Suite struct ImageBootstrapTests {
    typealias Fixtures = ImageMetricsTests

    // MARK: Eigenvalues

    @Test func eigenvaluesMatchJacobiOnRandomAndStructuredMatrices() throws {
        var cases: [(String, [Double], Int)] = [1, 2, 3, 7, 33].map { ("random \($0)", Fixtures.randomSymmetric($0, seed: UInt64($0)), $0) }
        cases.append(("repeated", Fixtures.withEigenvalues([2, 2, 2, -1, -1, 0, 5, 5], seed: 9), 8))
        cases.append(("zero", [Double](repeating: 0, count: 16), 4))
        cases.append(("diagonal", (0 ..< 25).map { $0 % 6 == 0 ? Double($0) : 0 }, 5))
        cases.append(("tiny and huge", Fixtures.withEigenvalues([1e-12, 1, 1e8, 3e-6, 42], seed: 4), 5))
        // Rank 3 of 64, as a covariance of fewer samples than features: 61 eigenvalues at rounding level.
        let factor = Fixtures.correlatedPoints(64, dimension: 3, seed: 8).values.map(Double.init)
        var lowRank = [Double](repeating: 0, count: 64 * 64)
        for i in 0 ..< 64 {
            for j in 0 ..< 64 {
                for k in 0 ..< 3 { lowRank[i * 64 + j] += factor[i * 3 + k] * factor[j * 3 + k] }
            }
        }
        cases.append(("rank 3", lowRank, 64))
        for (name, matrix, d) in cases {
            let values = try SymmetricEigenvalues.of(matrix, dimension: d)
            let jacobi = try SymmetricEigen(matrix, dimension: d).values
            let scale = max(1, matrix.map(abs).max() ?? 0)
            #expect(values.count == d)
            #expect(Fixtures.maxAbsDifference(values, jacobi) < 1e-12 * scale * Double(d), "\(name): \(values) against \(jacobi)")
            #expect(zip(values, values.dropFirst()).allSatisfy { $0 <= $1 }, "\(name): not ascending")
        }
    }

    @Test func eigenvaluesReadTheLowerTriangleAndRejectBadInput() throws {
        var matrix = Fixtures.randomSymmetric(6, seed: 3)
        let expected = try SymmetricEigenvalues.of(matrix, dimension: 6)
        for i in 0 ..< 6 { for j in i + 1 ..< 6 { matrix[i * 6 + j] = 1e9 } }
        #expect(try SymmetricEigenvalues.of(matrix, dimension: 6) == expected)
        expectDataError("5 values", "2 x 2") { _ = try SymmetricEigenvalues.of([1, 2, 3, 4, 5], dimension: 2) }
        expectDataError("non-finite") { _ = try SymmetricEigenvalues.of([1, .nan, .nan, 1], dimension: 2) }
    }

    // MARK: FD bootstrap

    /// The rows of `points` repeated as often as `weights` says.
    static func materialised(_ points: PointSet, _ weights: [Int32]) -> PointSet {
        var values: [Float] = []
        for (i, w) in weights.enumerated() { for _ in 0 ..< w { values += points[point: i] } }
        return PointSet(count: points.count, dimension: points.dimension, values: values)
    }

    @Test func frechetReplicatesAreTheDistancesOfTheResampledRows() throws {
        let reference = Fixtures.correlatedPoints(60, dimension: 5, seed: 1)
        let sample = Fixtures.correlatedPoints(40, dimension: 5, shift: 0.3, seed: 2)
        let referenceMoments = try FeatureStatistics.Moments(reference)
        let bootstrap = FrechetBootstrap(reference: try FrechetReference(referenceMoments), count: 40, replicates: 6, seed: 7)
        let (estimate, replicates) = try bootstrap.distances(sample)
        let plain = try FeatureStatistics.frechetDistance(referenceMoments, FeatureStatistics.Moments(sample))
        #expect(abs(estimate - plain) < 1e-10 * plain, "\(estimate) against \(plain)")
        #expect(replicates.count == 6)
        for (r, weights) in bootstrap.sampleWeights.enumerated() {
            let resampled = try FeatureStatistics.frechetDistance(referenceMoments, FeatureStatistics.Moments(Self.materialised(sample, weights)))
            #expect(abs(replicates[r] - resampled) < 1e-10 * resampled, "replicate \(r): \(replicates[r]) against \(resampled)")
        }
        #expect(Set(replicates).count == 6, "replicates should differ: \(replicates)")
        expectDataError("39 feature vectors", "expected 40") { _ = try bootstrap.distances(Fixtures.correlatedPoints(39, dimension: 5, seed: 3)) }
    }

    /// Paired: the same resamples for two models make the spread of their difference far smaller than either
    /// distance's own, when the two sample sets are nearly the same.
    @Test func frechetReplicatesArePairedAcrossSampleSets() throws {
        let reference = try FrechetReference(FeatureStatistics.Moments(Fixtures.correlatedPoints(400, dimension: 4, seed: 1)))
        let a = Fixtures.correlatedPoints(200, dimension: 4, shift: 0.2, seed: 5)
        let b = PointSet(count: a.count, dimension: a.dimension, values: a.values.map { $0 * 1.01 })
        let bootstrap = FrechetBootstrap(reference: reference, count: 200, replicates: 50, seed: 11)
        let (ra, rb) = (try bootstrap.distances(a).replicates, try bootstrap.distances(b).replicates)
        func spread(_ x: [Double]) -> Double {
            let mean = x.reduce(0, +) / Double(x.count)
            return (x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count - 1)).squareRoot()
        }
        #expect(spread(zip(ra, rb).map { $0 - $1 }) < 0.2 * spread(ra), "paired \(spread(zip(ra, rb).map { $0 - $1 })) against \(spread(ra))")
    }

    // MARK: KID bootstrap

    @Test func kernelReplicatesAreTheWeightedUStatisticFromTheDefinition() throws {
        for d in [3, 11] {
            let reference = Fixtures.gaussianPoints(30, dimension: d, seed: 1)
            let sample = Fixtures.gaussianPoints(12, dimension: d, shift: 0.4, seed: 2)
            let bootstrap = try KernelDistanceBootstrap(reference: reference, count: 12, replicates: 5, seed: 3)
            let (estimate, replicates) = try bootstrap.distances(sample)
            let plain = Fixtures.bruteForceMMD(sample, reference)
            #expect(abs(estimate - plain) < 1e-10 * abs(plain), "d \(d): \(estimate) against \(plain)")
            func k(_ i: Int, _ j: Int, _ y: PointSet) -> Double {
                pow(zip(sample[point: i], y[point: j]).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / Double(d) + 1, 3)
            }
            for (r, w) in bootstrap.sampleWeights.enumerated() {
                var within = 0.0, pairs = 0.0, cross = 0.0, yy = 0.0
                for i in 0 ..< 12 {
                    for j in 0 ..< 12 where i != j {
                        within += Double(w[i] * w[j]) * k(i, j, sample)
                        pairs += Double(w[i] * w[j])
                    }
                    for j in 0 ..< 30 { cross += Double(w[i]) * k(i, j, reference) }
                }
                for i in 0 ..< 30 {
                    for j in 0 ..< 30 where i != j {
                        yy += pow(zip(reference[point: i], reference[point: j]).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / Double(d) + 1, 3)
                    }
                }
                let expected = within / pairs + yy / (30 * 29) - 2 * cross / (12 * 30)
                #expect(abs(replicates[r] - expected) < 1e-10 * abs(expected), "d \(d) replicate \(r): \(replicates[r]) against \(expected)")
            }
        }
    }

    @Test func kernelBootstrapSeparatesAShiftAndRejectsBadInput() throws {
        let reference = Fixtures.gaussianPoints(300, dimension: 4, seed: 1)
        let bootstrap = try KernelDistanceBootstrap(reference: reference, count: 150, replicates: 100, seed: 2)
        let same = try bootstrap.distances(Fixtures.gaussianPoints(150, dimension: 4, seed: 3))
        let shifted = try bootstrap.distances(Fixtures.gaussianPoints(150, dimension: 4, shift: 0.5, seed: 3))
        // Every replicate of the shifted set scores worse than its paired replicate of the matching one.
        #expect(zip(shifted.replicates, same.replicates).allSatisfy { $0 > $1 })
        #expect(abs(same.estimate) < 0.2 * shifted.estimate, "\(same.estimate) against \(shifted.estimate)")
        expectDataError("need at least 2 samples") { _ = try KernelDistanceBootstrap(reference: reference, count: 1, seed: 0) }
        expectDataError("expected 150 of 4") { _ = try bootstrap.distances(Fixtures.gaussianPoints(150, dimension: 5, seed: 3)) }
    }
}
