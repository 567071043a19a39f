/// The eigendecomposition `A = V diag(values) V^T` of a real symmetric matrix, by the cyclic Jacobi method with
/// thresholds (Rutishauser 1971, as in Press et al., Numerical Recipes, 3rd ed., section 11.1; convergence:
/// Golub & Van Loan, Matrix Computations, 4th ed., section 8.5).
///
/// Jacobi is slower than tridiagonalisation plus QR but needs no library, is backward stable, and returns
/// orthonormal vectors even for repeated eigenvalues. A release build decomposes a 256 x 256 covariance in a few
/// tenths of a second.
public struct SymmetricEigen: Sendable, Equatable {
    /// Rows (and columns) of the matrix.
    public let dimension: Int
    /// The eigenvalues, ascending.
    public let values: [Double]
    /// The unit eigenvectors, one per row: row `j` (`vector(j)`) belongs to `values[j]`. Read as a row-major
    /// matrix this is `V^T`.
    public let vectors: [Double]

    /// Sweeps after which the threshold drops to zero and negligible elements are set to zero (Numerical
    /// Recipes' choices).
    static let thresholdSweeps = 3
    /// Cyclic Jacobi converges quadratically; real matrices need under 15 sweeps, so this only guards the loop.
    static let maxSweeps = 60

    /// Decomposes the row-major `dimension x dimension` `matrix`. Only its upper triangle is read, so a product
    /// that is symmetric up to rounding can be passed as it is.
    public init(_ matrix: [Double], dimension d: Int) throws(DataError) {
        var a = try SymmetricEigenvalues.symmetric(matrix, dimension: d, fromUpper: true, "eigendecomposition")
        // Rows of W = V^T, so that a rotation updates two contiguous rows.
        var w = [Double](repeating: 0, count: d * d)
        for i in 0 ..< d { w[i * d + i] = 1 }
        Self.diagonalise(&a, &w, d)

        let order = (0 ..< d).sorted { a[$0 * d + $0] < a[$1 * d + $1] }
        dimension = d
        values = order.map { a[$0 * d + $0] }
        vectors = order.flatMap { w[$0 * d ..< ($0 + 1) * d] }
    }

    /// The unit eigenvector of `values[j]`.
    public func vector(_ j: Int) -> ArraySlice<Double> {
        vectors[j * dimension ..< (j + 1) * dimension]
    }

    /// Rotates the full symmetric `a` to diagonal form, accumulating the rotations into the rows of `w`.
    private static func diagonalise(_ a: inout [Double], _ w: inout [Double], _ d: Int) {
        a.withUnsafeMutableBufferPointer { a in
            w.withUnsafeMutableBufferPointer { w in
                let a = a.baseAddress!, w = w.baseAddress!
                var scale = 0.0
                for k in 0 ..< d * d { scale += a[k] * a[k] }
                scale = scale.squareRoot()
                for sweep in 0 ..< maxSweeps {
                    var offSquares = 0.0, offSum = 0.0
                    for p in 0 ..< d {
                        for q in p + 1 ..< d {
                            offSquares += a[p * d + q] * a[p * d + q]
                            offSum += abs(a[p * d + q])
                        }
                    }
                    // Off-diagonal Frobenius norm against the whole matrix's: at rounding level the diagonal
                    // holds the eigenvalues to working precision.
                    if (2 * offSquares).squareRoot() <= Double.ulpOfOne * scale { return }
                    // Early sweeps skip small elements: rotating them costs as much as rotating large ones and
                    // the large ones' rotations would refill them anyway.
                    let threshold = sweep < thresholdSweeps ? 0.2 * offSum / Double(d * d) : 0
                    for p in 0 ..< d {
                        for q in p + 1 ..< d {
                            let apq = a[p * d + q]
                            let app = a[p * d + p], aqq = a[q * d + q], g = 100 * abs(apq)
                            if sweep > thresholdSweeps, abs(app) + g == abs(app), abs(aqq) + g == abs(aqq) {
                                a[p * d + q] = 0
                                a[q * d + p] = 0
                            } else if abs(apq) > threshold {
                                rotate(a, w, d, p, q, app: app, aqq: aqq, apq: apq)
                            }
                        }
                        for k in 0 ..< d { a[k * d + p] = a[p * d + k] }
                    }
                }
            }
        }
    }

    /// Applies the rotation in the (p, q) plane that zeroes `a[p, q]`: `a <- J^T a J`, `w <- J^T w`, except that
    /// column p of `a` is left for the caller to copy from row p.
    @inline(__always)
    private static func rotate(_ a: UnsafeMutablePointer<Double>, _ w: UnsafeMutablePointer<Double>, _ d: Int,
                               _ p: Int, _ q: Int, app: Double, aqq: Double, apq: Double) {
        // t = tan(phi), the smaller root of t^2 + 2 theta t - 1 = 0, which keeps the rotation angle under pi/4
        // (needed for convergence); for huge theta, t = 1 / (2 theta) avoids squaring it.
        let h = aqq - app
        let t: Double
        if abs(h) + 100 * abs(apq) == abs(h) {
            t = apq / h
        } else {
            let theta = 0.5 * h / apq
            let root = 1 / (abs(theta) + (1 + theta * theta).squareRoot())
            t = theta < 0 ? -root : root
        }
        let c = 1 / (1 + t * t).squareRoot(), s = t * c, tau = s / (1 + c)
        // Rows p and q of the symmetric matrix, then column q copied from row q; the 2 x 2 block they garble is
        // set last. Column p is copied once after all of row p's rotations: until then the only entry of it a
        // rotation reads, `a[q, p]`, lies in that garbled block. The strided column copies dominate the cost, so
        // this nearly halves it. Written as g - s (h + g tau) rather than c g - s h to lose less to rounding.
        let rowP = a + p * d, rowQ = a + q * d
        for k in 0 ..< d {
            let g = rowP[k], h = rowQ[k]
            rowP[k] = g - s * (h + g * tau)
            rowQ[k] = h + s * (g - h * tau)
        }
        for k in 0 ..< d { a[k * d + q] = rowQ[k] }
        rowP[p] = app - t * apq
        rowQ[q] = aqq + t * apq
        rowP[q] = 0
        rowQ[p] = 0
        let vp = w + p * d, vq = w + q * d
        for k in 0 ..< d {
            let g = vp[k], h = vq[k]
            vp[k] = g - s * (h + g * tau)
            vq[k] = h + s * (g - h * tau)
        }
    }
}
