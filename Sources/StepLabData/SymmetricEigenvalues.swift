import Foundation

/// The eigenvalues alone of a real symmetric matrix: Householder reduction to tridiagonal form, then the implicit
/// QL iteration with Wilkinson's shift (Golub & Van Loan, Matrix Computations, 4th ed., sections 8.3.1 and 8.3.3;
/// the QL form as in Press et al., Numerical Recipes, 3rd ed., section 11.4).
///
/// A Fréchet distance needs only the eigenvalues of `C1^(1/2) C2 C1^(1/2)`, so it need not pay for the
/// eigenvectors `SymmetricEigen`'s Jacobi sweeps accumulate: a 256 x 256 covariance took 18 ms here against 0.45 s
/// there (release builds on 2 cores, beside another job), which is what makes bootstrap intervals of FD affordable.
public enum SymmetricEigenvalues {
    /// QL iterations allowed per eigenvalue; it converges cubically, in two or three for almost every matrix.
    static let maxIterations = 60

    /// The eigenvalues, ascending, of the row-major `dimension x dimension` `matrix`. Only its lower triangle is
    /// read, so a product that is symmetric up to rounding can be passed as it is.
    public static func of(_ matrix: [Double], dimension d: Int) throws(DataError) -> [Double] {
        var a = try symmetric(matrix, dimension: d, fromUpper: false, "eigenvalues")
        var (diagonal, offDiagonal) = tridiagonalise(&a, d)
        guard diagonalise(&diagonal, &offDiagonal) else {
            throw DataError("eigenvalues: the QL iteration did not converge on the \(d) x \(d) matrix")
        }
        return diagonal.sorted()
    }

    /// `matrix` checked (`d x d`, finite) and made exactly symmetric from one triangle: the upper one, or the lower.
    static func symmetric(_ matrix: [Double], dimension d: Int, fromUpper: Bool, _ what: String) throws(DataError) -> [Double] {
        guard d >= 1, matrix.count == d * d else {
            throw DataError("\(what): \(matrix.count) values do not make a \(d) x \(d) matrix")
        }
        guard matrix.allSatisfy(\.isFinite) else {
            throw DataError("\(what): the \(d) x \(d) matrix holds a non-finite value")
        }
        var a = matrix
        for i in 0 ..< d {
            for j in i + 1 ..< d {
                if fromUpper { a[j * d + i] = a[i * d + j] } else { a[i * d + j] = a[j * d + i] }
            }
        }
        return a
    }

    /// Reduces the full symmetric `a` in place by Householder reflections `H = I - beta v v^T`, one per column, to
    /// the tridiagonal `T = Q^T A Q`; returns T's diagonal and its subdiagonal (`offDiagonal[i] = T[i + 1, i]`, the
    /// last entry 0).
    static func tridiagonalise(_ a: inout [Double], _ d: Int) -> (diagonal: [Double], offDiagonal: [Double]) {
        var diagonal = [Double](repeating: 0, count: d), offDiagonal = [Double](repeating: 0, count: d)
        let v = UnsafeMutablePointer<Double>.allocate(capacity: d), q = UnsafeMutablePointer<Double>.allocate(capacity: d)
        defer { v.deallocate(); q.deallocate() }
        a.withUnsafeMutableBufferPointer { a in
            let a = a.baseAddress!
            for k in 0 ..< d {
                diagonal[k] = a[k * d + k]
                guard k + 2 < d else {
                    if k + 1 < d { offDiagonal[k] = a[(k + 1) * d + k] }
                    continue
                }
                // v reflects column k below the diagonal, x = a[k+1..., k], onto alpha e_1 with |alpha| = |x|; the
                // sign of alpha opposite x_0's avoids cancellation in v_0 = x_0 - alpha.
                var norm = 0.0
                for i in k + 1 ..< d { norm += a[i * d + k] * a[i * d + k] }
                norm = norm.squareRoot()
                let x0 = a[(k + 1) * d + k]
                let alpha = x0 > 0 ? -norm : norm
                offDiagonal[k] = alpha
                let vNorm = norm * norm - 2 * alpha * x0 + alpha * alpha
                guard vNorm > 0 else { offDiagonal[k] = x0; continue }
                for i in k + 1 ..< d { v[i] = a[i * d + k] }
                v[k + 1] = x0 - alpha
                // A22 <- H A22 H = A22 - v w^T - w v^T with p = beta A22 v, w = p - (beta p^T v / 2) v.
                let beta = 2 / vNorm
                var pv = 0.0
                for i in k + 1 ..< d {
                    let row = a + i * d
                    var sum = 0.0
                    for j in k + 1 ..< d { sum += row[j] * v[j] }
                    q[i] = beta * sum
                    pv += q[i] * v[i]
                }
                let half = 0.5 * beta * pv
                for i in k + 1 ..< d { q[i] -= half * v[i] }
                for i in k + 1 ..< d {
                    let row = a + i * d, vi = v[i], qi = q[i]
                    for j in k + 1 ..< d { row[j] -= vi * q[j] + qi * v[j] }
                }
            }
        }
        return (diagonal, offDiagonal)
    }

    /// Diagonalises the symmetric tridiagonal matrix in place by implicit QL steps: for each eigenvalue in turn,
    /// Givens rotations chase the bulge of a shifted QL step until its subdiagonal entry is negligible against its
    /// neighbours. False if an eigenvalue needs more than `maxIterations` steps.
    static func diagonalise(_ d: inout [Double], _ e: inout [Double]) -> Bool {
        let n = d.count
        // An off-diagonal entry below rounding against its neighbours, or against the whole matrix, is negligible: the
        // second test matters for rank-deficient matrices (a covariance of fewer samples than features), whose many
        // eigenvalues at rounding level would otherwise make the relative test ask for ever smaller entries.
        var norm = 0.0
        for i in 0 ..< n { norm = max(norm, abs(d[i]) + abs(e[i]) + (i > 0 ? abs(e[i - 1]) : 0)) }
        let negligible = Double.ulpOfOne * norm
        for l in 0 ..< n {
            var iterations = 0
            while true {
                var m = l
                while m < n - 1, abs(e[m]) > Double.ulpOfOne * (abs(d[m]) + abs(d[m + 1])), abs(e[m]) > negligible { m += 1 }
                if m == l { break }
                iterations += 1
                if iterations > maxIterations { return false }
                // Wilkinson's shift: the eigenvalue of the leading 2 x 2 block nearer d[l].
                var g = (d[l + 1] - d[l]) / (2 * e[l])
                var r = hypot(g, 1)
                g = d[m] - d[l] + e[l] / (g + (g < 0 ? -r : r))
                var s = 1.0, c = 1.0, p = 0.0
                var i = m - 1
                var deflated = false
                while i >= l {
                    let f = s * e[i], b = c * e[i]
                    r = hypot(f, g)
                    e[i + 1] = r
                    if r == 0 {
                        // An exact zero splits the matrix: finish this step and restart on the smaller block.
                        d[i + 1] -= p
                        e[m] = 0
                        deflated = true
                        break
                    }
                    s = f / r
                    c = g / r
                    g = d[i + 1] - p
                    r = (d[i] - g) * s + 2 * c * b
                    p = s * r
                    d[i + 1] = g + p
                    g = c * r - b
                    i -= 1
                }
                if deflated { continue }
                d[l] -= p
                e[l] = g
                e[m] = 0
            }
        }
        return true
    }
}
