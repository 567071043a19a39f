import Foundation
import Testing
import StepLabData
import StepLabEngine

/// The image-quality statistics on feature vectors: the Jacobi eigensolver, the Fréchet distance, KID and class
/// coverage, each against a closed form or an independent computation written here.
@Suite struct ImageMetricsTests {
    // MARK: Fixtures

    /// Uniform in [0, 1).
    static func unit(_ random: inout HostRandom) -> Double { Double(random.next() >> 11) * 0x1p-53 }

    /// N(0, 1) by Box-Muller.
    static func normal(_ random: inout HostRandom) -> Double {
        let u0 = unit(&random) + 0x1p-54, u1 = unit(&random)
        return (-2 * log(u0)).squareRoot() * cos(2 * Double.pi * u1)
    }

    static func randomSymmetric(_ d: Int, seed: UInt64) -> [Double] {
        var random = HostRandom(seed: seed)
        var a = [Double](repeating: 0, count: d * d)
        for i in 0 ..< d {
            for j in i ..< d {
                a[i * d + j] = 2 * unit(&random) - 1
                a[j * d + i] = a[i * d + j]
            }
        }
        return a
    }

    /// A random orthogonal matrix: Gram-Schmidt (applied twice for full precision) on Gaussian columns.
    static func randomOrthogonal(_ d: Int, seed: UInt64) -> [Double] {
        var random = HostRandom(seed: seed)
        var columns = (0 ..< d).map { _ in (0 ..< d).map { _ in normal(&random) } }
        for c in 0 ..< d {
            for _ in 0 ..< 2 {
                for e in 0 ..< c {
                    let dot = zip(columns[c], columns[e]).reduce(0) { $0 + $1.0 * $1.1 }
                    for i in 0 ..< d { columns[c][i] -= dot * columns[e][i] }
                }
            }
            let norm = columns[c].reduce(0) { $0 + $1 * $1 }.squareRoot()
            columns[c] = columns[c].map { $0 / norm }
        }
        return (0 ..< d * d).map { columns[$0 % d][$0 / d] }
    }

    static func multiply(_ x: [Double], _ y: [Double], _ d: Int) -> [Double] {
        (0 ..< d * d).map { ij in (0 ..< d).reduce(0) { $0 + x[ij / d * d + $1] * y[$1 * d + ij % d] } }
    }

    static func transpose(_ x: [Double], _ d: Int) -> [Double] {
        (0 ..< d * d).map { x[$0 % d * d + $0 / d] }
    }

    static func identity(_ d: Int) -> [Double] {
        (0 ..< d * d).map { $0 / d == $0 % d ? 1 : 0 }
    }

    static func maxAbsDifference(_ x: [Double], _ y: [Double]) -> Double {
        zip(x, y).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// `Q diag(values) Q^T` for a random orthogonal `Q`.
    static func withEigenvalues(_ values: [Double], seed: UInt64) -> [Double] {
        let d = values.count, q = randomOrthogonal(d, seed: seed)
        let scaled = (0 ..< d * d).map { q[$0] * values[$0 % d] }
        return multiply(scaled, transpose(q, d), d)
    }

    /// A random covariance `B B^T + floor I`.
    static func randomCovariance(_ d: Int, floor: Double, seed: UInt64) -> [Double] {
        var random = HostRandom(seed: seed)
        let b = (0 ..< d * d).map { _ in normal(&random) }
        return zip(multiply(b, transpose(b, d), d), identity(d)).map { $0 + floor * $1 }
    }

    /// `count` correlated points `L z`, `z ~ N(0, I)`, plus `shift` in every coordinate.
    static func correlatedPoints(_ count: Int, dimension d: Int, shift: Float = 0, seed: UInt64) -> PointSet {
        var random = HostRandom(seed: seed)
        let mixing = (0 ..< d * d).map { _ in normal(&random) / Double(d).squareRoot() }
        var values: [Float] = []
        for _ in 0 ..< count {
            let z = (0 ..< d).map { _ in normal(&random) }
            for i in 0 ..< d { values.append(Float((0 ..< d).reduce(0) { $0 + mixing[i * d + $1] * z[$1] }) + shift) }
        }
        return PointSet(count: count, dimension: d, values: values)
    }

    /// Checks that `eigen` reconstructs `a` as `V diag(values) V^T` with orthonormal `V` and ascending values.
    static func expectDecomposes(_ a: [Double], _ eigen: SymmetricEigen, tolerance: Double = 1e-9,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
        let d = eigen.dimension
        let vt = eigen.vectors, v = transpose(vt, d)
        let scaled = (0 ..< d * d).map { v[$0] * eigen.values[$0 % d] }
        let error = maxAbsDifference(multiply(scaled, vt, d), a)
        #expect(error < tolerance, "d \(d): |V L V^T - A| = \(error)", sourceLocation: sourceLocation)
        let orthogonality = maxAbsDifference(multiply(vt, v, d), identity(d))
        #expect(orthogonality < 1e-12, "d \(d): |V^T V - I| = \(orthogonality)", sourceLocation: sourceLocation)
        #expect(zip(eigen.values, eigen.values.dropFirst()).allSatisfy { $0 <= $1 }, "not ascending: \(eigen.values)",
                sourceLocation: sourceLocation)
    }

    // MARK: Symmetric eigendecomposition

    @Test func jacobiReconstructsRandomSymmetricMatrices() throws {
        for (d, seed) in [(1, UInt64(1)), (2, 2), (7, 3), (50, 4)] {
            let a = Self.randomSymmetric(d, seed: seed)
            Self.expectDecomposes(a, try SymmetricEigen(a, dimension: d))
        }
    }

    /// Repeated eigenvalues (a degenerate eigenspace has no unique basis, but the one returned must still be
    /// orthonormal), a known spectrum, and matrices that are already diagonal or zero.
    @Test func jacobiFindsRepeatedAndKnownEigenvalues() throws {
        let spectrum: [Double] = [2, 2, 2, -1, -1, 5, 0]
        let repeated = Self.withEigenvalues(spectrum, seed: 5)
        let eigen = try SymmetricEigen(repeated, dimension: 7)
        #expect(Self.maxAbsDifference(eigen.values, spectrum.sorted()) < 1e-12, "\(eigen.values)")
        Self.expectDecomposes(repeated, eigen)

        // The second-difference matrix tridiag(-1, 2, -1) has eigenvalues 2 - 2 cos(k pi / (n + 1)).
        let n = 12
        let laplacian = (0 ..< n * n).map { ij -> Double in
            let i = ij / n, j = ij % n
            return i == j ? 2 : abs(i - j) == 1 ? -1 : 0
        }
        let known = (1 ... n).map { 2 - 2 * cos(Double($0) * Double.pi / Double(n + 1)) }
        let tridiagonal = try SymmetricEigen(laplacian, dimension: n)
        #expect(Self.maxAbsDifference(tridiagonal.values, known) < 1e-12, "\(tridiagonal.values)")
        Self.expectDecomposes(laplacian, tridiagonal)

        let diagonal: [Double] = [3, 0, 0, 0, -2, 0, 0, 0, 1]
        let sorted = try SymmetricEigen(diagonal, dimension: 3)
        #expect(sorted.values == [-2, 1, 3])
        #expect(Array(sorted.vector(0)) == [0, 1, 0] && Array(sorted.vector(2)) == [1, 0, 0])
        let zero = try SymmetricEigen([Double](repeating: 0, count: 16), dimension: 4)
        #expect(zero.values == [0, 0, 0, 0])
        Self.expectDecomposes([Double](repeating: 0, count: 16), zero)
        #expect(try SymmetricEigen([-4.5], dimension: 1).values == [-4.5])
    }

    @Test func jacobiReadsOnlyTheUpperTriangleAndRejectsBadInput() throws {
        let d = 6, a = Self.randomSymmetric(d, seed: 6)
        var garbled = a
        for i in 0 ..< d { for j in 0 ..< i { garbled[i * d + j] = 99 } }
        #expect(try SymmetricEigen(garbled, dimension: d) == SymmetricEigen(a, dimension: d))
        expectDataError("5 values", "2 x 2") { _ = try SymmetricEigen([1, 2, 3, 4, 5], dimension: 2) }
        expectDataError("non-finite") { _ = try SymmetricEigen([1, .nan, .nan, 1], dimension: 2) }
    }

    // MARK: Moments and Fréchet distance

    /// The blocked accumulation (blocks of four rows, a padded last block) against the textbook two-pass formula.
    @Test func momentsMatchTheDefinition() throws {
        for (n, d) in [(2, 1), (37, 5), (40, 3)] {
            let points = Self.correlatedPoints(n, dimension: d, shift: 3, seed: UInt64(n))
            let moments = try FeatureStatistics.Moments(points)
            let x = points.values.map(Double.init)
            let mean = (0 ..< d).map { t in (0 ..< n).reduce(0) { $0 + x[$1 * d + t] } / Double(n) }
            let covariance = (0 ..< d * d).map { ij in
                (0 ..< n).reduce(0) { $0 + (x[$1 * d + ij / d] - mean[ij / d]) * (x[$1 * d + ij % d] - mean[ij % d]) }
                    / Double(n - 1)
            }
            #expect(moments.count == n && moments.dimension == d)
            #expect(Self.maxAbsDifference(moments.mean, mean) < 1e-12, "n \(n) d \(d)")
            #expect(Self.maxAbsDifference(moments.covariance, covariance) < 1e-12, "n \(n) d \(d)")
        }
        expectDataError("at least 2", "got 1") {
            _ = try FeatureStatistics.Moments(PointSet(count: 1, dimension: 3, values: [1, 2, 3]))
        }
        expectDataError("non-finite") {
            _ = try FeatureStatistics.Moments(PointSet(count: 2, dimension: 2, values: [1, .infinity, 3, 4]))
        }
        expectDataError("3 features", "9 covariance values", "got 4") {
            _ = try FeatureStatistics.Moments(mean: [0, 0, 0], covariance: [1, 0, 0, 1], count: 10)
        }
        expectDataError("at least 2", "got 1") {
            _ = try FeatureStatistics.Moments(mean: [0], covariance: [1], count: 1)
        }
    }

    @Test func frechetDistanceOfASetWithItselfIsZero() throws {
        let moments = try FeatureStatistics.Moments(Self.correlatedPoints(300, dimension: 12, seed: 7))
        let trace = (0 ..< 12).reduce(0) { $0 + moments.covariance[$1 * 12 + $1] }
        let fd = try FeatureStatistics.frechetDistance(moments, moments)
        #expect(abs(fd) < 1e-8 * trace, "fd \(fd), trace \(trace)")
    }

    /// In one dimension the distance between N(m1, s1^2) and N(m2, s2^2) is (m1 - m2)^2 + (s1 - s2)^2.
    @Test func frechetDistanceInOneDimension() throws {
        let a = Self.correlatedPoints(200, dimension: 1, seed: 8)
        let b = PointSet(count: 150, dimension: 1,
                         values: Self.correlatedPoints(150, dimension: 1, seed: 9).values.map { 3 * $0 + 2 })
        func meanAndStd(_ p: PointSet) -> (Double, Double) {
            let x = p.values.map(Double.init), mean = x.reduce(0, +) / Double(x.count)
            return (mean, (x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count - 1)).squareRoot())
        }
        let (m1, s1) = meanAndStd(a), (m2, s2) = meanAndStd(b)
        let expected = (m1 - m2) * (m1 - m2) + (s1 - s2) * (s1 - s2)
        let fd = try FeatureStatistics.frechetDistance(FeatureStatistics.Moments(a), FeatureStatistics.Moments(b))
        #expect(abs(fd - expected) < 1e-10 * expected, "fd \(fd), expected \(expected)")
    }

    /// Diagonal covariances make the matrix square root elementwise; a zero variance checks the clamp at 0.
    @Test func frechetDistanceOfDiagonalCovariances() throws {
        let m1: [Double] = [0, 1, -2, 0.5, 3, 0], m2: [Double] = [1, 1, 0, -0.5, 3, 2]
        let c1: [Double] = [1, 4, 0.25, 2, 9, 0], c2: [Double] = [4, 1, 0.25, 0.5, 1, 3]
        func diagonal(_ c: [Double]) -> [Double] {
            var matrix = [Double](repeating: 0, count: 36)
            for i in 0 ..< 6 { matrix[i * 6 + i] = c[i] }
            return matrix
        }
        let a = try FeatureStatistics.Moments(mean: m1, covariance: diagonal(c1), count: 10)
        let b = try FeatureStatistics.Moments(mean: m2, covariance: diagonal(c2), count: 20)
        let expected = (0 ..< 6).reduce(0.0) { sum, i in
            let dm = m1[i] - m2[i], ds = c1[i].squareRoot() - c2[i].squareRoot()
            return sum + dm * dm + ds * ds
        }
        let fd = try FeatureStatistics.frechetDistance(a, b)
        #expect(abs(fd - expected) < 1e-12 * expected, "fd \(fd), expected \(expected)")
    }

    /// `tr((C1 C2)^(1/2))` by the Denman-Beavers iteration on the non-symmetric product itself (Denman & Beavers
    /// 1976: Y -> (Y + Z^-1) / 2, Z -> (Z + Y^-1) / 2 converges to (A^(1/2), A^(-1/2)) when A has no eigenvalues on
    /// the closed negative axis), with a Gauss-Jordan inverse: no eigendecomposition involved.
    static func denmanBeaversTraceOfRoot(_ a: [Double], _ d: Int) -> Double {
        func inverse(_ m: [Double]) -> [Double] {
            var left = m, right = identity(d)
            for c in 0 ..< d {
                let pivot = (c ..< d).max { abs(left[$0 * d + c]) < abs(left[$1 * d + c]) }!
                for k in 0 ..< d {
                    left.swapAt(c * d + k, pivot * d + k)
                    right.swapAt(c * d + k, pivot * d + k)
                }
                let scale = 1 / left[c * d + c]
                for k in 0 ..< d { left[c * d + k] *= scale; right[c * d + k] *= scale }
                for r in 0 ..< d where r != c {
                    let factor = left[r * d + c]
                    for k in 0 ..< d {
                        left[r * d + k] -= factor * left[c * d + k]
                        right[r * d + k] -= factor * right[c * d + k]
                    }
                }
            }
            return right
        }
        var y = a, z = identity(d)
        for _ in 0 ..< 60 {
            let yInverse = inverse(y), zInverse = inverse(z)
            y = zip(y, zInverse).map { ($0 + $1) / 2 }
            z = zip(z, yInverse).map { ($0 + $1) / 2 }
        }
        return (0 ..< d).reduce(0) { $0 + y[$1 * d + $1] }
    }

    @Test func frechetDistanceMatchesAnIndependentMatrixSquareRoot() throws {
        let d = 6
        let c1 = Self.randomCovariance(d, floor: 0.1, seed: 10), c2 = Self.randomCovariance(d, floor: 0.3, seed: 11)
        let m1: [Double] = [0, 1, 2, 3, 4, 5], m2: [Double] = [0.5, 1, 1, 3, 4, -1]
        let traceOfRoot = Self.denmanBeaversTraceOfRoot(Self.multiply(c1, c2, d), d)
        let expected = zip(m1, m2).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            + (0 ..< d).reduce(0) { $0 + c1[$1 * d + $1] + c2[$1 * d + $1] } - 2 * traceOfRoot
        let fd = try FeatureStatistics.frechetDistance(FeatureStatistics.Moments(mean: m1, covariance: c1, count: 100),
                                                        FeatureStatistics.Moments(mean: m2, covariance: c2, count: 100))
        #expect(abs(fd - expected) < 1e-9 * expected, "fd \(fd), Denman-Beavers \(expected)")
        // The cross term matters: dropping it would change the answer by far more than the tolerance.
        #expect(traceOfRoot > 1e-3 * expected)
    }

    /// Rotating both sets by one orthogonal Q maps (m, C) to (Q m, Q C Q^T) and leaves the distance unchanged.
    @Test func frechetDistanceIsInvariantUnderACommonRotation() throws {
        let d = 8
        let a = try FeatureStatistics.Moments(Self.correlatedPoints(100, dimension: d, seed: 12))
        let b = try FeatureStatistics.Moments(Self.correlatedPoints(120, dimension: d, shift: 0.3, seed: 13))
        let q = Self.randomOrthogonal(d, seed: 14), qt = Self.transpose(q, d)
        func rotated(_ m: FeatureStatistics.Moments) throws -> FeatureStatistics.Moments {
            let mean = (0 ..< d).map { i in (0 ..< d).reduce(0) { $0 + q[i * d + $1] * m.mean[$1] } }
            let covariance = Self.multiply(Self.multiply(q, m.covariance, d), qt, d)
            return try FeatureStatistics.Moments(mean: mean, covariance: covariance, count: m.count)
        }
        let fd = try FeatureStatistics.frechetDistance(a, b)
        let rotatedFD = try FeatureStatistics.frechetDistance(rotated(a), rotated(b))
        #expect(abs(fd - rotatedFD) < 1e-10 * fd, "fd \(fd), rotated \(rotatedFD)")
    }

    /// Shifting one set by delta along a direction leaves its covariance alone and moves |m1 - m2|^2 exactly.
    @Test func frechetDistanceGrowsWithAShift() throws {
        let d = 5
        let a = try FeatureStatistics.Moments(Self.correlatedPoints(200, dimension: d, seed: 15))
        let points = Self.correlatedPoints(200, dimension: d, seed: 16)
        let base = try FeatureStatistics.Moments(points)
        let baseFD = try FeatureStatistics.frechetDistance(a, base)
        var previous = baseFD
        for delta: Float in [0.5, 1, 2] {
            let values = points.values.enumerated().map { $0 % d == 0 ? $1 + delta : $1 }
            let shifted = try FeatureStatistics.Moments(PointSet(count: 200, dimension: d, values: values))
            let fd = try FeatureStatistics.frechetDistance(a, shifted)
            let gap = base.mean[0] - a.mean[0]
            let expected = baseFD + (gap + Double(delta)) * (gap + Double(delta)) - gap * gap
            #expect(fd > previous, "delta \(delta): fd \(fd) after \(previous)")
            #expect(abs(fd - expected) < 1e-5 * expected, "delta \(delta): fd \(fd), expected \(expected)")
            previous = fd
        }
    }

    @Test func frechetDistanceRejectsMismatchedMoments() throws {
        let a = try FeatureStatistics.Moments(mean: [0, 0], covariance: [1, 0, 0, 1], count: 5)
        let b = try FeatureStatistics.Moments(mean: [0, 0, 0], covariance: [1, 0, 0, 0, 1, 0, 0, 0, 1], count: 5)
        expectDataError("2 features", "3 features") { _ = try FeatureStatistics.frechetDistance(a, b) }
    }

    // MARK: Kernel Inception Distance

    static func gaussianPoints(_ count: Int, dimension: Int, shift: Float = 0, seed: UInt64) -> PointSet {
        var random = HostRandom(seed: seed)
        return PointSet(count: count, dimension: dimension,
                        values: (0 ..< count * dimension).map { _ in Float(normal(&random)) + shift })
    }

    /// Unbiased MMD^2 with the cubic kernel, written from the definition over the whole sets.
    static func bruteForceMMD(_ a: PointSet, _ b: PointSet) -> Double {
        let d = a.dimension
        func k(_ x: ArraySlice<Float>, _ y: ArraySlice<Float>) -> Double {
            let dot = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            return pow(dot / Double(d) + 1, 3)
        }
        let m = a.count, n = b.count
        var xx = 0.0, yy = 0.0, xy = 0.0
        for i in 0 ..< m { for j in 0 ..< m where i != j { xx += k(a[point: i], a[point: j]) } }
        for i in 0 ..< n { for j in 0 ..< n where i != j { yy += k(b[point: i], b[point: j]) } }
        for i in 0 ..< m { for j in 0 ..< n { xy += k(a[point: i], b[point: j]) } }
        return xx / Double(m * (m - 1)) + yy / Double(n * (n - 1)) - 2 * xy / Double(m * n)
    }

    /// With subsets as large as the sets, every subset is the whole set reordered, so each estimate is the
    /// full-sample statistic. Dimensions 3 and 11 leave partial SIMD chunks of padding.
    @Test func kidOnATinySetIsTheBruteForceMMD() throws {
        for d in [3, 11] {
            let a = Self.gaussianPoints(5, dimension: d, seed: 20)
            let b = Self.gaussianPoints(5, dimension: d, shift: 0.7, seed: 21)
            let kid = try KernelInceptionDistance(a, b, subsetSize: 5, subsets: 4, seed: 3)
            let expected = Self.bruteForceMMD(a, b)
            #expect(kid.subsetSize == 5 && kid.estimates.count == 4)
            for estimate in kid.estimates {
                #expect(abs(estimate - expected) < 1e-12 * abs(expected), "d \(d): \(estimate) vs \(expected)")
            }
            #expect(kid.standardDeviation < 1e-12 * abs(expected))
        }
        // The default subset size is cut to the smaller set.
        #expect(try KernelInceptionDistance(Self.gaussianPoints(5, dimension: 2, seed: 1),
                                            Self.gaussianPoints(9, dimension: 2, seed: 2)).subsetSize == 5)
    }

    /// Two samples of one Gaussian: the estimator is unbiased, so the mean over subsets sits within three
    /// standard errors (about 0.017 here) of 0. For N(0, I) in 4-D, E k(x, x) = 11.5 and E k(x, y) = 1.75, so
    /// the biased V-statistic (keeping the i = j terms) would sit 2 (11.5 - 1.75) / m = 0.2 above 0; adding the
    /// i = j terms but not their count to the divisor gives 0.41 on this data.
    @Test func kidOfOneDistributionIsNearZeroAndOfAShiftedOneIsPositive() throws {
        let a = Self.gaussianPoints(1000, dimension: 4, seed: 22), b = Self.gaussianPoints(1000, dimension: 4, seed: 23)
        let same = try KernelInceptionDistance(a, b, subsetSize: 100, subsets: 10, seed: 1)
        let standardError = same.standardDeviation / Double(same.estimates.count).squareRoot()
        #expect(same.standardDeviation > 0)
        #expect(abs(same.mean) < 3 * standardError, "mean \(same.mean), standard error \(standardError)")

        let shifted = Self.gaussianPoints(1000, dimension: 4, shift: 0.5, seed: 23)
        let far = try KernelInceptionDistance(a, shifted, subsetSize: 100, subsets: 10, seed: 1)
        let farError = far.standardDeviation / Double(far.estimates.count).squareRoot()
        #expect(far.mean > 10 * max(farError, standardError), "mean \(far.mean), standard error \(farError)")
    }

    @Test func kidIsSeededAndRejectsBadInput() throws {
        let a = Self.gaussianPoints(60, dimension: 3, seed: 24), b = Self.gaussianPoints(50, dimension: 3, seed: 25)
        let first = try KernelInceptionDistance(a, b, subsetSize: 20, subsets: 3, seed: 9)
        #expect(try KernelInceptionDistance(a, b, subsetSize: 20, subsets: 3, seed: 9) == first)
        #expect(try KernelInceptionDistance(a, b, subsetSize: 20, subsets: 3, seed: 10).estimates != first.estimates)
        #expect(first.mean == first.estimates.reduce(0, +) / 3)

        expectDataError("3 features", "2 features") {
            _ = try KernelInceptionDistance(a, Self.gaussianPoints(10, dimension: 2, seed: 1))
        }
        expectDataError("subsetSize >= 2") { _ = try KernelInceptionDistance(a, b, subsetSize: 1) }
        expectDataError("subsets >= 1") { _ = try KernelInceptionDistance(a, b, subsets: 0) }
        expectDataError("at least 2", "got 60 and 1") {
            _ = try KernelInceptionDistance(a, Self.gaussianPoints(1, dimension: 3, seed: 1))
        }
        expectDataError("non-finite") {
            _ = try KernelInceptionDistance(a, PointSet(count: 2, dimension: 3, values: [0, 0, .nan, 1, 1, 1]))
        }
    }

    // MARK: Class coverage

    @Test func coverageOfAHandMadeLabelList() throws {
        let coverage = try ClassCoverage(labels: [0, 0, 0, 2, 1, 2, 0, 0], classes: 4)
        #expect(coverage.counts == [5, 1, 2, 0])
        #expect(coverage.fractions == [0.625, 0.125, 0.25, 0])
        // Half the uniform share is 1/8: class 1 holds exactly that and counts; class 3 holds nothing.
        #expect(coverage.coveredClasses == 3)
        let kl = 5.0 / 8 * log(4 * 5.0 / 8) + 1.0 / 8 * log(4 * 1.0 / 8) + 2.0 / 8 * log(4 * 2.0 / 8)
        #expect(abs(coverage.klFromUniform - kl) < 1e-15)
        let entropy = -(5.0 / 8 * log(5.0 / 8) + 1.0 / 8 * log(1.0 / 8) + 2.0 / 8 * log(2.0 / 8))
        #expect(abs(coverage.normalizedEntropy - entropy / log(4)) < 1e-15)

        let justUnder = try ClassCoverage(labels: [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2], classes: 3)
        // 1 of 17 is under 1/6 of the samples, half of the uniform share 1/3.
        #expect(justUnder.coveredClasses == 2)
    }

    @Test func coverageOfUniformAndOfSingleClassLabels() throws {
        let k = 10
        let uniform = try ClassCoverage(labels: (0 ..< 50).map { $0 % k }, classes: k)
        #expect(uniform.counts == [Int](repeating: 5, count: k))
        #expect(uniform.coveredClasses == k)
        #expect(abs(uniform.klFromUniform) < 1e-15 && abs(uniform.normalizedEntropy - 1) < 1e-15)

        let collapsed = try ClassCoverage(labels: [Int](repeating: 7, count: 30), classes: k)
        #expect(collapsed.coveredClasses == 1)
        #expect(abs(collapsed.klFromUniform - log(Double(k))) < 1e-15)
        #expect(abs(collapsed.normalizedEntropy) < 1e-15)

        let decoded = try JSONDecoder().decode(ClassCoverage.self, from: JSONEncoder().encode(collapsed))
        #expect(decoded == collapsed)
    }

    @Test func coverageRejectsBadLabels() {
        expectDataError("label 10", "index 2", "0 ..< 10") { _ = try ClassCoverage(labels: [0, 3, 10], classes: 10) }
        expectDataError("label -1", "index 0") { _ = try ClassCoverage(labels: [-1], classes: 10) }
        expectDataError("at least 2 classes") { _ = try ClassCoverage(labels: [0], classes: 1) }
        expectDataError("no labels") { _ = try ClassCoverage(labels: [], classes: 3) }
    }
}
