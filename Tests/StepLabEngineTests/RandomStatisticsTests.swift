import Foundation
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// Distribution checks on 10^6 device draws. The seed is fixed, so each check is deterministic; the bounds
/// are set several standard errors out so that a correct generator passes for any seed.
@Suite struct RandomStatisticsTests {
    static let n = 1_000_000

    /// Mean of U(0, 1): standard error sqrt(1/12/n) = 2.9e-4, so 0.002 is 7 sigma. Kolmogorov-Smirnov as
    /// for the normals below.
    @Test func uniformsAreUniformOnTheOpenInterval() throws {
        let values = try draw { engine, y in try engine.uniform(into: y, key: RandomKey(seed: 1, stream: 2, counter: 3)) }
        #expect(values.allSatisfy { $0 > 0 && $0 < 1 })
        let (mean, _) = moments(values)
        #expect(abs(mean - 0.5) < 0.002, "mean \(mean)")
        let d = kolmogorovSmirnov(values) { min(max($0, 0), 1) }
        #expect(d < 0.0025, "KS statistic \(d)")
    }

    /// Standard errors for n = 10^6: mean 1e-3 (bound 0.005 = 5 sigma), variance sqrt(2/n) = 1.4e-3 (bound
    /// 0.01 = 7 sigma). KS: sqrt(n) D tends to the Kolmogorov distribution, whose alpha = 0.001 point is
    /// 1.95 (D = 0.00195 here); the bound 0.0025 is the alpha ~ 1e-5 point, P(K > 2.5) ~ 2 exp(-12.5), so a
    /// correct generator essentially never fails it, while a wrong constant or a lost lane moves D past 0.01.
    @Test func normalsAreStandardNormal() throws {
        let values = try draw { engine, y in try engine.normal(into: y, key: RandomKey(seed: 7, stream: 0, counter: 0)) }
        let (mean, variance) = moments(values)
        #expect(abs(mean) < 0.005, "mean \(mean)")
        #expect(abs(variance - 1) < 0.01, "variance \(variance)")
        let d = kolmogorovSmirnov(values) { 0.5 * erfc(-$0 / 2.0.squareRoot()) }
        #expect(d < 0.0025, "KS statistic \(d)")
    }

    /// log(y) is N(mean, std^2): the moment bounds above, scaled by std.
    @Test func lognormalsHaveNormalLogs() throws {
        let mean: Float = -1.2, std: Float = 1.2
        let values = try draw { engine, y in try engine.lognormal(into: y, key: RandomKey(seed: 7, stream: 1), mean: mean, std: std) }
        #expect(values.allSatisfy { $0 > 0 && $0.isFinite })
        let (m, v) = moments(values.map { Foundation.log($0) })
        #expect(abs(m - Double(mean)) < 0.005 * Double(std), "mean of log \(m)")
        #expect(abs(v / Double(std * std) - 1) < 0.01, "variance of log \(v)")
    }

    private func draw(_ body: (Engine, Tensor) throws -> Void) throws -> [Float] {
        try SharedEngine.withEngine { engine in
            let y = try engine.tensor(rows: 1000, columns: Self.n / 1000)
            try body(engine, y)
            return try y.download()
        }
    }
}

/// Sample mean and (population) variance, in Double.
func moments(_ values: [Float]) -> (mean: Double, variance: Double) {
    let n = Double(values.count)
    let mean = values.reduce(0) { $0 + Double($1) } / n
    let variance = values.reduce(0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
    return (mean, variance)
}

/// The Kolmogorov-Smirnov statistic sup |F_n(x) - F(x)| of `values` against the CDF `cdf`.
func kolmogorovSmirnov(_ values: [Float], cdf: (Double) -> Double) -> Double {
    let sorted = values.map(Double.init).sorted()
    let n = Double(sorted.count)
    var d = 0.0
    for (i, x) in sorted.enumerated() {
        let f = cdf(x)
        d = max(d, f - Double(i) / n, Double(i + 1) / n - f)
    }
    return d
}
