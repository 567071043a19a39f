import StepLabEngine

/// Bootstrap replicates of KID's unbiased MMD^2 (`KernelInceptionDistance`, the cubic polynomial kernel) of sample
/// features against a fixed reference set, paired across models as `FrechetBootstrap`'s are: replicate r resamples
/// the sample indices with replacement, the same resample for every set scored.
///
/// The whole reference enters (KID's subsets would add their own draw to every estimate), so the estimate is the
/// unbiased MMD^2 of the samples against all of it, the quantity KID's mean over subsets estimates with more noise.
///
/// The kernel matrix of a set of samples is computed once; a replicate weights it by how often each sample was
/// drawn. The within-set term stays a U-statistic over pairs of distinct original samples,
/// `sum_{i != j} w_i w_j k(x_i, x_j) / sum_{i != j} w_i w_j`, so a drawn-twice sample is never compared with its own
/// copy (which would add `k(x, x)`, the kernel's largest values, and inflate every replicate).
public struct KernelDistanceBootstrap: Sendable {
    /// Samples per scored set.
    public let count: Int
    public let dimension: Int
    /// The reference vectors, padded.
    let reference: KernelInceptionDistance.Rows
    /// The reference's within-set term, `1 / (m (m - 1)) sum_{i != j} k(y_i, y_j)`.
    let referenceTerm: Double
    /// Per replicate, how often each sample index is drawn.
    let sampleWeights: [[Int32]]

    public var replicates: Int { sampleWeights.count }

    /// `replicates` resamples of `count` sample indices drawn from `seed`, against `reference`. The reference's
    /// within-set term is computed here: for 10000 vectors of 256 features, a few seconds of a release build.
    public init(reference: PointSet, count: Int, replicates: Int = 200, seed: UInt64) throws(DataError) {
        guard count >= 2, reference.count >= 2, replicates >= 1 else {
            throw DataError("KID bootstrap: need at least 2 samples, 2 reference vectors and 1 replicate")
        }
        guard reference.values.allSatisfy(\.isFinite) else { throw DataError("KID bootstrap: the reference features hold a non-finite value") }
        self.count = count
        dimension = reference.dimension
        var random = HostRandom(seed: seed)
        let m = reference.count
        self.reference = KernelInceptionDistance.padded(reference, rows: 0 ..< m)
        referenceTerm = 2 * KernelInceptionDistance.kernelSum(self.reference, self.reference, dimension: dimension, pairs: .upperTriangle)
            / (Double(m) * Double(m - 1))
        sampleWeights = resampleCounts(count: count, replicates: replicates, random: &random)
    }

    /// The MMD^2 of `features` (`count` feature vectors) with unit weights, and its value on each replicate.
    public func distances(_ features: PointSet) throws(DataError) -> (estimate: Double, replicates: [Double]) {
        guard features.count == count, features.dimension == dimension else {
            throw DataError("KID bootstrap: \(features.count) feature vectors of \(features.dimension), expected \(count) of \(dimension)")
        }
        guard features.values.allSatisfy(\.isFinite) else { throw DataError("KID bootstrap: the feature vectors hold a non-finite value") }
        let x = KernelInceptionDistance.padded(features, rows: 0 ..< count)
        let (width, n, inverseD) = (x.width, count, 1 / Double(dimension))
        // Row i: the mean kernel against the reference, then k(x_i, x_j) for every j (0 on the diagonal).
        let rows = parallelMap(n) { i in
            x.values.withUnsafeBufferPointer { xs in
                reference.values.withUnsafeBufferPointer { ys in
                    let u = xs.baseAddress! + i * width
                    var cross = 0.0
                    for j in 0 ..< reference.count { cross += KernelInceptionDistance.kernel(u, ys.baseAddress! + j * width, width: width, inverseD: inverseD) }
                    var row = [Double](repeating: 0, count: n + 1)
                    row[n] = cross / Double(reference.count)
                    for j in 0 ..< n where j != i {
                        row[j] = KernelInceptionDistance.kernel(u, xs.baseAddress! + j * width, width: width, inverseD: inverseD)
                    }
                    return row
                }
            }
        }
        let estimate = distance(rows, weights: nil)
        return (estimate, parallelMap(replicates) { r in distance(rows, weights: sampleWeights[r]) })
    }

    /// The weighted MMD^2 from the kernel rows (`rows[i][n]` the mean cross kernel of sample i).
    func distance(_ rows: [[Double]], weights: [Int32]?) -> Double {
        let n = count
        let drawn = weights.map { w in (0 ..< n).filter { w[$0] != 0 } } ?? Array(0 ..< n)
        let weight = weights.map { $0.map(Double.init) } ?? [Double](repeating: 1, count: n)
        var within = 0.0, cross = 0.0, squares = 0.0
        for i in drawn {
            let wi = weight[i], row = rows[i]
            var sum = 0.0
            for j in drawn { sum += weight[j] * row[j] }
            within += wi * sum
            cross += wi * row[n]
            squares += wi * wi
        }
        let total = Double(n)
        return within / (total * total - squares) + referenceTerm - 2 * cross / total
    }
}
