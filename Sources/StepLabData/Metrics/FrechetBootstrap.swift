import StepLabEngine

/// Bootstrap replicates of the Fréchet distance (`FeatureStatistics.frechetDistance`) of sample features against one
/// fixed reference, paired across models: replicate r resamples the sample indices with replacement, and every set
/// of samples scored sees the same resample. When the models' samples come from the same starting noise (image i of
/// every model from noise i), differences of two models' replicates are paired differences.
///
/// The reference is not resampled: it is a data set's moments (Fashion-MNIST's 10000 test images), whose own
/// sampling error is small against that of the 1000 or so samples a model is scored on, and which every paired
/// difference shares.
///
/// A replicate costs one weighted covariance and the eigenvalues of one `d x d` matrix. With `R = C_ref^(1/2)`, the
/// product whose root's trace FD needs is `R C_w R = (ZR)^T W (ZR) / (n - 1)` for the centred sample rows `Z`: the
/// rows are mapped by `R` once, and each replicate is a weighted Gram matrix of the mapped rows.
public struct FrechetBootstrap: Sendable {
    public let reference: FrechetReference
    /// Samples per scored set.
    public let count: Int
    /// Per replicate, how often each sample index is drawn.
    let sampleWeights: [[Int32]]

    public var replicates: Int { sampleWeights.count }

    /// `replicates` resamples of `count` sample indices drawn from `seed`, against `reference`.
    public init(reference: FrechetReference, count: Int, replicates: Int = 200, seed: UInt64) {
        precondition(count >= 2 && replicates >= 1, "FrechetBootstrap: too few samples or replicates")
        self.reference = reference
        self.count = count
        var random = HostRandom(seed: seed)
        sampleWeights = resampleCounts(count: count, replicates: replicates, random: &random)
    }

    /// The distance of `features` (`count` feature vectors) with unit weights, and its value on each replicate.
    public func distances(_ features: PointSet) throws(DataError) -> (estimate: Double, replicates: [Double]) {
        let d = reference.moments.dimension
        guard features.count == count, features.dimension == d else {
            throw DataError("Fréchet bootstrap: \(features.count) feature vectors of \(features.dimension), expected \(count) of \(d)")
        }
        guard features.values.allSatisfy(\.isFinite) else { throw DataError("Fréchet bootstrap: the feature vectors hold a non-finite value") }
        let x = features.values.map(Double.init)
        let mapped = FeatureStatistics.multiply(x, reference.root, rows: count, d)
        let estimate = try distance(x, mapped, weights: nil)
        let replicates = parallelMap(replicates) { r in Result { () throws(DataError) in try distance(x, mapped, weights: sampleWeights[r]) } }
        return (estimate, try replicates.map { result throws(DataError) in try result.get() })
    }

    /// The distance of the rows `x` weighted by `weights` (nil: all ones), `mapped` being `x R`:
    /// `|m_ref - m_w|^2 + tr C_ref + tr C_w - 2 tr((R C_w R)^(1/2))`, covariances with the `n - 1` divisor.
    func distance(_ x: [Double], _ mapped: [Double], weights: [Int32]?) throws(DataError) -> Double {
        let (n, d) = (count, reference.moments.dimension)
        let weight = weights.map { $0.map(Double.init) } ?? [Double](repeating: 1, count: n)
        var mean = [Double](repeating: 0, count: d), mappedMean = [Double](repeating: 0, count: d)
        for i in 0 ..< n where weight[i] != 0 {
            let w = weight[i] / Double(n)
            for t in 0 ..< d {
                mean[t] += w * x[i * d + t]
                mappedMean[t] += w * mapped[i * d + t]
            }
        }
        var meanTerm = 0.0, traces = 0.0
        for t in 0 ..< d {
            let difference = reference.moments.mean[t] - mean[t]
            meanTerm += difference * difference
            traces += reference.moments.covariance[t * d + t]
        }
        for i in 0 ..< n where weight[i] != 0 {
            var squares = 0.0
            for t in 0 ..< d { squares += (x[i * d + t] - mean[t]) * (x[i * d + t] - mean[t]) }
            traces += weight[i] * squares / Double(n - 1)
        }
        var product = mapped.withUnsafeBufferPointer {
            FeatureStatistics.Moments.centredGram($0, dimension: d, mean: mappedMean, weights: weights)
        }
        for i in 0 ..< d {
            for j in i ..< d { product[j * d + i] = product[i * d + j] / Double(n - 1) }
        }
        return meanTerm + traces - 2 * (try FrechetReference.traceOfRoot(product, dimension: d))
    }
}
