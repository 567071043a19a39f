import Foundation

/// MMD^2 and energy distance from one pass over all pairs of points, as unbiased U-statistics.
///
/// Both have the form `S(X, X) + S(Y, Y) - 2 S(X, Y)` for a pair function `h`: MMD^2 with the kernel
/// (Gretton et al. 2012), the energy distance with `h = -|x - y|` (Szekely & Rizzo 2013). The within-set means
/// leave out the pairs `i = j`. The cross mean runs over all `m n` pairs, except when `m = n`: then it also
/// leaves out the `n` pairs `(x_i, y_i)`, Gretton et al.'s `MMD^2_u` for equal sizes (eq. 4), still unbiased,
/// and exactly zero for identical sets (the all-pairs form is then about `-2 (1 - mean k) / n`).
///
/// The kernel is the mean of five RBF kernels `exp(-|x - y|^2 / (2 h^2))` with `h` = {1/4, 1/2, 1, 2, 4} x the
/// median distance between points of the pooled sample (the median heuristic, taken over the first 256 points
/// of each shuffled set), so it sees structure at several scales and `k(x, x) = 1`. Because the bandwidths
/// are a geometric series with ratio 2, the five values are `u, u^4, u^16, u^64, u^256` of one
/// `u = exp(-|x - y|^2 / (32 median^2))`: one `exp` and eight multiplications per pair.
enum PairwiseDiscrepancy {
    /// The widest bandwidth, in medians; `pairSums` derives the other four from it by squaring.
    static let widestBandwidth = 4.0
    /// Points of each set that the median distance is taken over: 512 pooled points give 130816 distances,
    /// plenty for a median, at a small fraction of the cost of the sums.
    static let medianPoints = 256

    /// `a` and `b` are row-major Double points of `dimension`, each at least 2 points.
    static func compute(_ a: [Double], _ b: [Double], dimension d: Int) -> (mmd: Double, energy: Double) {
        let m = a.count / d, n = b.count / d
        let median = medianDistance(Array(a.prefix(medianPoints * d)) + Array(b.prefix(medianPoints * d)), dimension: d)
        let rate = 1 / (2 * (widestBandwidth * median) * (widestBandwidth * median))
        let aa = pairSums(a, a, dimension: d, rate: rate, pairs: .upperTriangle)
        let bb = pairSums(b, b, dimension: d, rate: rate, pairs: .upperTriangle)
        let ab = pairSums(a, b, dimension: d, rate: rate, pairs: m == n ? .offDiagonal : .all)
        let withinA = Double(m) * Double(m - 1) / 2, withinB = Double(n) * Double(n - 1) / 2
        let cross = m == n ? Double(m) * Double(m - 1) : Double(m) * Double(n)
        let mmd = aa.kernel / withinA + bb.kernel / withinB - 2 * ab.kernel / cross
        let energy = 2 * ab.distance / cross - aa.distance / withinA - bb.distance / withinB
        return (mmd, energy)
    }

    /// The median of the distances between distinct points of `points`; 1 if that is 0 (all points equal).
    static func medianDistance(_ points: [Double], dimension d: Int) -> Double {
        let n = points.count / d
        var distances = [Double](repeating: 0, count: n * (n - 1) / 2)
        points.withUnsafeBufferPointer { p in
            distances.withUnsafeMutableBufferPointer { out in
                var k = 0
                for i in 0 ..< n {
                    for j in i + 1 ..< n {
                        var sq = 0.0
                        for t in 0 ..< d {
                            let difference = p[i * d + t] - p[j * d + t]
                            sq += difference * difference
                        }
                        out[k] = sq.squareRoot()
                        k += 1
                    }
                }
            }
        }
        distances.sort()
        let middle = distances.count / 2
        let median = distances.count % 2 == 1 ? distances[middle] : (distances[middle - 1] + distances[middle]) / 2
        return median > 0 ? median : 1
    }

    enum Pairs {
        /// `j > i` (a set with itself).
        case upperTriangle
        /// `j != i`.
        case offDiagonal
        /// every `(i, j)`.
        case all
    }

    /// Sums over the chosen pairs `(a_i, b_j)` of the five-bandwidth kernel and of the distance.
    static func pairSums(_ a: [Double], _ b: [Double], dimension d: Int, rate: Double,
                         pairs: Pairs) -> (kernel: Double, distance: Double) {
        let m = a.count / d, n = b.count / d
        let rows = parallelMap(m) { i in
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    var kernel = 0.0, distance = 0.0
                    let x = a.baseAddress! + i * d
                    for j in (pairs == .upperTriangle ? i + 1 : 0) ..< n where pairs != .offDiagonal || j != i {
                        let y = b.baseAddress! + j * d
                        var sq = 0.0
                        for t in 0 ..< d {
                            let difference = x[t] - y[t]
                            sq += difference * difference
                        }
                        let u = exp(-rate * sq)
                        let u4 = (u * u) * (u * u)
                        let u16 = (u4 * u4) * (u4 * u4)
                        let u64 = (u16 * u16) * (u16 * u16)
                        let u256 = (u64 * u64) * (u64 * u64)
                        kernel += (u + u4 + u16 + u64 + u256) / 5
                        distance += sq.squareRoot()
                    }
                    return SIMD2(kernel, distance)
                }
            }
        }
        let total = rows.reduce(.zero, +)
        return (total.x, total.y)
    }
}
