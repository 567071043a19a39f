/// Statistics of classifier feature vectors that score generated images against real ones, computed on the
/// host in Double: the Fréchet distance of the features' Gaussian fits here (FID when the features come from
/// Inception), the kernel distance in `KernelInceptionDistance`.
public enum FeatureStatistics {
    /// Mean and unbiased covariance of a set of feature vectors: all the Fréchet distance needs, so a reference
    /// set's moments can be computed once and stored (Codable).
    public struct Moments: Codable, Sendable, Equatable {
        /// The mean feature vector.
        public let mean: [Double]
        /// The covariance, `dimension x dimension`, row-major, with the `n - 1` divisor.
        public let covariance: [Double]
        /// Feature vectors the moments were computed from.
        public let count: Int

        /// Features per vector.
        public var dimension: Int { mean.count }

        /// Moments given directly: `covariance` must be `mean.count` squared values and `count` at least 2.
        public init(mean: [Double], covariance: [Double], count: Int) throws(DataError) {
            guard !mean.isEmpty, covariance.count == mean.count * mean.count else {
                let needed = mean.count * mean.count
                throw DataError("feature statistics: a mean of \(mean.count) features needs \(needed) covariance values, got \(covariance.count)")
            }
            guard count >= 2 else {
                throw DataError("feature statistics: need at least 2 feature vectors for a covariance, got \(count)")
            }
            self.mean = mean
            self.covariance = covariance
            self.count = count
        }

        /// The moments of `features`, one feature vector per point. A release build takes about 0.07 s (one
        /// core) for 10000 vectors of 256 features.
        public init(_ features: PointSet) throws(DataError) {
            let n = features.count, d = features.dimension
            guard n >= 2 else {
                throw DataError("feature statistics: need at least 2 feature vectors for a covariance, got \(n)")
            }
            let mean = Self.columnMeans(features)
            guard mean.allSatisfy(\.isFinite) else {
                throw DataError("feature statistics: the \(n) feature vectors hold a non-finite value")
            }
            // Two passes (means first, then products of centred values) lose far less to cancellation than
            // accumulating the raw sums of products.
            var covariance = Self.centredGram(features, mean: mean)
            let divisor = 1 / Double(n - 1)
            for i in 0 ..< d {
                for j in i ..< d {
                    covariance[i * d + j] *= divisor
                    covariance[j * d + i] = covariance[i * d + j]
                }
            }
            self.mean = mean
            self.covariance = covariance
            self.count = n
        }

        static func columnMeans(_ features: PointSet) -> [Double] {
            let n = features.count, d = features.dimension
            var sums = [Double](repeating: 0, count: d)
            features.values.withUnsafeBufferPointer { x in
                sums.withUnsafeMutableBufferPointer { sums in
                    for i in 0 ..< n {
                        let row = x.baseAddress! + i * d
                        for t in 0 ..< d { sums[t] += Double(row[t]) }
                    }
                }
            }
            return sums.map { $0 / Double(n) }
        }

        /// Rows of centred values that one pass of `centredGram` adds to the Gram matrix at once.
        static let blockRows = 4

        /// The upper triangle of `Z^T Z` for the centred rows `Z` (the lower triangle is left zero).
        static func centredGram(_ features: PointSet, mean: [Double]) -> [Double] {
            features.values.withUnsafeBufferPointer { centredGram($0, dimension: features.dimension, mean: mean) }
        }

        /// The upper triangle of `Z^T W Z` for the rows `Z` of `values` (`dimension` each) less `mean`, and `W` the
        /// diagonal of `weights` (nil: all ones; a bootstrap resample's counts otherwise, whose zero rows are
        /// skipped). The lower triangle is left zero.
        ///
        /// Rank-4 updates: for each matrix row `i`, `G[i, i...] += sum_b w_b z_b[i] z_b[i...]` over a block of four
        /// centred rows. The inner loop is a contiguous multiply-add that the compiler vectorises, the matrix row
        /// stays in L1 across the block, and it is loaded and stored once per four rows rather than once per row.
        /// The last block is padded with zero rows, which add nothing.
        static func centredGram<T: BinaryFloatingPoint>(_ values: UnsafeBufferPointer<T>, dimension d: Int, mean: [Double],
                                                        weights: [Int32]? = nil) -> [Double] {
            let b = blockRows
            let rows = weights.map { w in w.indices.filter { w[$0] != 0 } } ?? Array(0 ..< values.count / d)
            var gram = [Double](repeating: 0, count: d * d)
            var block = [Double](repeating: 0, count: b * d)
            var scale = [Double](repeating: 0, count: b)
            mean.withUnsafeBufferPointer { mean in
                gram.withUnsafeMutableBufferPointer { gram in
                    block.withUnsafeMutableBufferPointer { block in
                        let z0 = block.baseAddress!, z1 = z0 + d, z2 = z1 + d, z3 = z2 + d
                        for start in stride(from: 0, to: rows.count, by: b) {
                            for r in 0 ..< b {
                                let z = z0 + r * d
                                if start + r < rows.count {
                                    let index = rows[start + r], row = values.baseAddress! + index * d
                                    for t in 0 ..< d { z[t] = Double(row[t]) - mean[t] }
                                    scale[r] = weights.map { Double($0[index]) } ?? 1
                                } else {
                                    for t in 0 ..< d { z[t] = 0 }
                                    scale[r] = 0
                                }
                            }
                            let (w0, w1, w2, w3) = (scale[0], scale[1], scale[2], scale[3])
                            for i in 0 ..< d {
                                let g = gram.baseAddress! + i * d
                                let s0 = w0 * z0[i], s1 = w1 * z1[i], s2 = w2 * z2[i], s3 = w3 * z3[i]
                                for j in i ..< d {
                                    g[j] += (s0 * z0[j] + s1 * z1[j]) + (s2 * z2[j] + s3 * z3[j])
                                }
                            }
                        }
                    }
                }
            }
            return gram
        }
    }

    /// The squared Fréchet (2-Wasserstein) distance between the Gaussians with moments `a` and `b`, the
    /// number FID reports (Heusel et al. 2017, "GANs trained by a two time-scale update rule converge to a local
    /// Nash equilibrium"; Dowson & Landau 1982 for the formula):
    ///
    ///     |m1 - m2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2))
    ///
    /// `C1 C2` is not symmetric, so its square root is not taken directly (scipy's `sqrtm`, which pytorch-fid
    /// uses, can return small imaginary parts). It is similar to the symmetric positive semidefinite
    /// `C1^(1/2) C2 C1^(1/2)`, so the trace is the sum of the square roots of that matrix's eigenvalues, each
    /// clamped at 0 against rounding; `C1^(1/2)` comes from `C1`'s eigendecomposition. For identical moments the
    /// result is a rounding-level number that can be slightly negative.
    ///
    /// Two 256-feature covariances take about 0.3 s in a release build on 2 cores (a 256 x 256 eigendecomposition
    /// with vectors for `C1^(1/2)`, and the eigenvalues alone of the product).
    public static func frechetDistance(_ a: Moments, _ b: Moments) throws(DataError) -> Double {
        try FrechetReference(a).distance(to: b)
    }

    /// The symmetric positive semidefinite square root `V diag(sqrt(max(lambda, 0))) V^T` of a symmetric matrix.
    static func squareRoot(_ matrix: [Double], dimension d: Int) throws(DataError) -> [Double] {
        let eigen = try SymmetricEigen(matrix, dimension: d)
        var root = [Double](repeating: 0, count: d * d)
        eigen.vectors.withUnsafeBufferPointer { vectors in
            root.withUnsafeMutableBufferPointer { root in
                for k in 0 ..< d {
                    let scale = max(eigen.values[k], 0).squareRoot()
                    guard scale > 0 else { continue }
                    let v = vectors.baseAddress! + k * d
                    for i in 0 ..< d {
                        let s = scale * v[i], out = root.baseAddress! + i * d
                        for j in 0 ..< d { out[j] += s * v[j] }
                    }
                }
            }
        }
        return root
    }

    /// `x y` for row-major `d x d` matrices.
    static func multiply(_ x: [Double], _ y: [Double], _ d: Int) -> [Double] {
        multiply(x, y, rows: d, d)
    }

    /// `x y` for a row-major `rows x d` matrix `x` and a `d x d` matrix `y`, in i-k-j order so the inner loop runs
    /// along contiguous rows.
    static func multiply(_ x: [Double], _ y: [Double], rows: Int, _ d: Int) -> [Double] {
        var result = [Double](repeating: 0, count: rows * d)
        x.withUnsafeBufferPointer { x in
            y.withUnsafeBufferPointer { y in
                result.withUnsafeMutableBufferPointer { result in
                    for i in 0 ..< rows {
                        let out = result.baseAddress! + i * d
                        for k in 0 ..< d {
                            let s = x[i * d + k], row = y.baseAddress! + k * d
                            for j in 0 ..< d { out[j] += s * row[j] }
                        }
                    }
                }
            }
        }
        return result
    }
}

/// One side of `FeatureStatistics.frechetDistance` with its covariance's square root computed once, so that
/// scoring many sample sets against one reference costs one eigendecomposition each instead of two.
public struct FrechetReference: Sendable {
    public let moments: FeatureStatistics.Moments
    let root: [Double]

    public init(_ moments: FeatureStatistics.Moments) throws(DataError) {
        guard moments.count >= 2, moments.covariance.count == moments.dimension * moments.dimension else {
            throw DataError("Fréchet distance: need at least 2 feature vectors and a \(moments.dimension) x \(moments.dimension) "
                            + "covariance (count \(moments.count))")
        }
        self.moments = moments
        root = try FeatureStatistics.squareRoot(moments.covariance, dimension: moments.dimension)
    }

    /// The Fréchet distance between these moments and `other` (see `FeatureStatistics.frechetDistance`).
    public func distance(to other: FeatureStatistics.Moments) throws(DataError) -> Double {
        let (a, b, d) = (moments, other, moments.dimension)
        guard b.dimension == d else {
            throw DataError("Fréchet distance: cannot compare \(a.dimension) features with \(b.dimension) features")
        }
        guard b.count >= 2, b.covariance.count == d * d else {
            throw DataError("Fréchet distance: need at least 2 feature vectors and a \(d) x \(d) covariance on each side"
                            + " (counts \(a.count), \(b.count))")
        }
        var meanTerm = 0.0, traces = 0.0
        for i in 0 ..< d {
            let difference = a.mean[i] - b.mean[i]
            meanTerm += difference * difference
            traces += a.covariance[i * d + i] + b.covariance[i * d + i]
        }
        let product = FeatureStatistics.multiply(FeatureStatistics.multiply(root, b.covariance, d), root, d)
        return meanTerm + traces - 2 * (try Self.traceOfRoot(product, dimension: d))
    }

    /// `tr(M^(1/2))` of a symmetric positive semidefinite `M`: the sum of the square roots of its eigenvalues, each
    /// clamped at 0 against rounding.
    static func traceOfRoot(_ matrix: [Double], dimension d: Int) throws(DataError) -> Double {
        try SymmetricEigenvalues.of(matrix, dimension: d).reduce(0) { $0 + max($1, 0).squareRoot() }
    }
}
