import Foundation
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// Uniform, normal and lognormal draws: device against `Reference`, and reproducibility by key.
@Suite struct RandomTests {
    static let key = RandomKey(seed: 20_240_311, stream: 3, counter: 41)

    /// Uniforms are bit-identical: the word-to-float map is exact and both sides fuse `lo + width * u`.
    /// Normals go through `log`, `sqrt` and `cos`/`sin`, which OpenCL 1.2 bounds to 3, 3 and 4 ulp (s7.4);
    /// together about 10 ulp, 6e-7 relative, so rtol 1e-6 with atol 1e-6 for values near zero (POCL
    /// measured: 2.4e-7 relative, 1.8e-7 absolute below 1, over 10^6 draws).
    /// Lognormals: `exp(mean + std * z)` turns the absolute error of `std * z`, at most 1.2 * 6.8e-6 for
    /// |z| < 5.8, into a relative one, plus exp's 3 ulp: rtol 1e-5 (POCL measured: 7e-7).
    @Test(arguments: ElementwiseTests.sizes)
    func drawsMatchTheirReferences(count: Int) throws {
        try SharedEngine.withEngine { engine in
            let storage = try engine.tensor(filled: -7, rows: 3, columns: count)
            let y = try storage.rows(1, count: 1)

            try engine.uniform(into: y, key: Self.key, lo: -2, hi: 3)
            #expect(try y.download() == Reference.uniform(count: count, key: Self.key, lo: -2, hi: 3))

            try engine.normal(into: y, key: Self.key, mean: 0.5, std: 2)
            expectClose(try y.download(), Reference.normal(count: count, key: Self.key, mean: 0.5, std: 2),
                        rtol: 1e-6, atol: 1e-6, "normal")

            try engine.lognormal(into: y, key: Self.key, mean: -1.2, std: 1.2)
            expectClose(try y.download(), Reference.lognormal(count: count, key: Self.key, mean: -1.2, std: 1.2),
                        rtol: 1e-5, atol: 0, "lognormal")

            // The rows around the view are untouched.
            #expect(try storage.rows(0, count: 1).download() == [Float](repeating: -7, count: count))
            #expect(try storage.rows(2, count: 1).download() == [Float](repeating: -7, count: count))
        }
    }

    /// Element i depends on the key and i only: not on the draw's length, the tensor's shape or history.
    @Test func sameKeyGivesTheSameNumbers() throws {
        try SharedEngine.withEngine { engine in
            let long = try engine.tensor(rows: 25, columns: 40), short = try engine.tensor(rows: 1, columns: 17)
            try engine.normal(into: long, key: Self.key)
            let first = try long.download()
            try engine.normal(into: short, key: Self.key.at(counter: 99))
            try engine.normal(into: long, key: Self.key)
            #expect(try long.download() == first)
            try engine.normal(into: short, key: Self.key)
            #expect(try short.download() == Array(first.prefix(17)))
        }
    }

    /// Another stream, counter or seed gives unrelated numbers. For independent draws of n = 4096 the
    /// correlation has standard deviation 1/sqrt(n) = 0.016, so |r| < 0.08 is a 5-sigma bound; equal
    /// values should be about n / 2^23 = 0.0005 in number.
    @Test(arguments: [
        RandomKey(seed: 20_240_311, stream: 4, counter: 41),
        RandomKey(seed: 20_240_311, stream: 3, counter: 42),
        RandomKey(seed: 20_240_312, stream: 3, counter: 41),
        RandomKey(seed: 20_240_311 | 1 << 32, stream: 3, counter: 41 | 1 << 32),
    ])
    func otherKeysGiveUnrelatedNumbers(other: RandomKey) throws {
        let n = 4096
        try SharedEngine.withEngine { engine in
            let a = try engine.tensor(rows: 1, columns: n), b = try engine.tensor(rows: 1, columns: n)
            try engine.uniform(into: a, key: Self.key)
            try engine.uniform(into: b, key: other)
            let x = try a.download(), y = try b.download()
            let equal = zip(x, y).filter { $0 == $1 }.count
            #expect(Double(equal) < 0.01 * Double(n), "\(equal) equal elements")
            let r = correlation(x, y)
            #expect(abs(r) < 0.08, "correlation \(r)")
        }
    }
}

/// Pearson correlation, in Double.
func correlation(_ x: [Float], _ y: [Float]) -> Double {
    let n = Double(x.count)
    let mx = x.reduce(0) { $0 + Double($1) } / n, my = y.reduce(0) { $0 + Double($1) } / n
    var sxy = 0.0, sxx = 0.0, syy = 0.0
    for (a, b) in zip(x, y) {
        let dx = Double(a) - mx, dy = Double(b) - my
        sxy += dx * dy; sxx += dx * dx; syy += dy * dy
    }
    return sxy / (sxx * syy).squareRoot()
}
