import StepLabEngine

/// Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs"): the unbiased estimate of MMD^2
/// between two sets of feature vectors under the cubic polynomial kernel `k(x, y) = (x^T y / d + 1)^3`,
/// averaged over random subsets.
///
/// Each of `subsets` rounds draws `m = min(subsetSize, n_a, n_b)` vectors without replacement from each set and
/// computes
///
///     1 / (m (m - 1)) sum_{i != j} [k(x_i, x_j) + k(y_i, y_j)]  -  2 / m^2 sum_{i, j} k(x_i, y_j)
///
/// (the within-set sums leave out `i = j`; the cross sum keeps all pairs, as the paper's code, torch-fidelity
/// and clean-fid do, so the numbers compare with theirs). Unlike FID it is unbiased, so values from different
/// sample sizes are comparable, and it is about 0, possibly negative, when the distributions agree.
public struct KernelInceptionDistance: Codable, Sendable, Equatable {
    /// The mean of the subset estimates: the KID.
    public let mean: Double
    /// The standard deviation of the subset estimates (divisor `subsets`, as torch-fidelity reports it). The
    /// subsets overlap when they are large against the sets, so this measures the subsampling spread, not the
    /// error of `mean`.
    public let standardDeviation: Double
    /// The MMD^2 estimate of each subset.
    public let estimates: [Double]
    /// Vectors drawn from each set per subset: `min(subsetSize, n_a, n_b)`.
    public let subsetSize: Int

    /// KID between the feature vectors `a` and `b` (one per point), subsets drawn from `seed`. With the
    /// defaults a release build on 2 cores takes about a second for 256 features.
    public init(_ a: PointSet, _ b: PointSet, subsetSize: Int = 1000, subsets: Int = 10,
                seed: UInt64 = 0) throws(DataError) {
        guard a.dimension == b.dimension else {
            throw DataError("KID: cannot compare \(a.dimension) features with \(b.dimension) features")
        }
        guard subsetSize >= 2, subsets >= 1 else {
            throw DataError("KID: need subsetSize >= 2 and subsets >= 1, got \(subsetSize) and \(subsets)")
        }
        guard a.count >= 2, b.count >= 2 else {
            throw DataError("KID: need at least 2 feature vectors on each side, got \(a.count) and \(b.count)")
        }
        guard a.values.allSatisfy(\.isFinite), b.values.allSatisfy(\.isFinite) else {
            throw DataError("KID: the feature vectors hold a non-finite value")
        }
        let m = min(subsetSize, a.count, b.count)
        var random = HostRandom(seed: seed)
        var estimates: [Double] = []
        for _ in 0 ..< subsets {
            let x = Self.paddedSubset(a, size: m, random: &random)
            let y = Self.paddedSubset(b, size: m, random: &random)
            let xx = Self.kernelSum(x, x, dimension: a.dimension, pairs: .upperTriangle)
            let yy = Self.kernelSum(y, y, dimension: a.dimension, pairs: .upperTriangle)
            let xy = Self.kernelSum(x, y, dimension: a.dimension, pairs: .all)
            let within = Double(m) * Double(m - 1) / 2
            estimates.append((xx + yy) / within - 2 * xy / (Double(m) * Double(m)))
        }
        let mean = estimates.reduce(0, +) / Double(subsets)
        let variance = estimates.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(subsets)
        self.mean = mean
        self.standardDeviation = variance.squareRoot()
        self.estimates = estimates
        self.subsetSize = m
    }

    /// Subset rows in Double, each padded with zeros to a multiple of `lanes` values (zeros change no dot
    /// product), so the dot products run over whole SIMD vectors.
    struct Rows {
        var values: [SIMD4<Double>]
        /// SIMD vectors per row (even).
        var width: Int
        var count: Int { values.count / width }
    }

    /// Values per padded row chunk: two SIMD4 accumulators.
    static let lanes = 8

    /// `size` rows of `points` drawn without replacement (a partial Fisher-Yates shuffle of the indices).
    static func paddedSubset(_ points: PointSet, size: Int, random: inout HostRandom) -> Rows {
        var order = Array(0 ..< points.count)
        for i in 0 ..< size { order.swapAt(i, i + random.index(below: points.count - i)) }
        return padded(points, rows: order[..<size])
    }

    /// The rows `rows` of `points`, in that order, padded.
    static func padded(_ points: PointSet, rows: some Collection<Int>) -> Rows {
        let d = points.dimension
        let width = (d + lanes - 1) / lanes * (lanes / 4)
        var values = [SIMD4<Double>](repeating: .zero, count: rows.count * width)
        for (i, row) in rows.enumerated() {
            for t in 0 ..< d { values[i * width + t / 4][t % 4] = Double(points.values[row * d + t]) }
        }
        return Rows(values: values, width: width)
    }

    enum Pairs {
        /// `j > i` (a set with itself).
        case upperTriangle
        /// every `(i, j)`.
        case all
    }

    /// The sum of `k(x_i, y_j)` over the chosen pairs. Products of Float features are exact in Double and the
    /// sums are over at most a few hundred terms, so the result is accurate to Double rounding.
    static func kernelSum(_ x: Rows, _ y: Rows, dimension d: Int, pairs: Pairs) -> Double {
        let width = x.width, inverseD = 1 / Double(d), yCount = y.count
        let rowSums = parallelMap(x.count) { i in
            x.values.withUnsafeBufferPointer { xs in
                y.values.withUnsafeBufferPointer { ys in
                    let u = xs.baseAddress! + i * width
                    var sum = 0.0
                    for j in (pairs == .upperTriangle ? i + 1 : 0) ..< yCount {
                        sum += kernel(u, ys.baseAddress! + j * width, width: width, inverseD: inverseD)
                    }
                    return sum
                }
            }
        }
        return rowSums.reduce(0, +)
    }

    /// `k(u, v) = (u^T v / d + 1)^3` of two padded rows of `width` SIMD vectors.
    @inline(__always)
    static func kernel(_ u: UnsafePointer<SIMD4<Double>>, _ v: UnsafePointer<SIMD4<Double>>, width: Int, inverseD: Double) -> Double {
        // Two accumulators halve the add chain's latency.
        var even = SIMD4<Double>.zero, odd = SIMD4<Double>.zero
        for k in stride(from: 0, to: width, by: 2) {
            even += u[k] * v[k]
            odd += u[k + 1] * v[k + 1]
        }
        let base = (even + odd).sum() * inverseD + 1
        return base * base * base
    }
}
