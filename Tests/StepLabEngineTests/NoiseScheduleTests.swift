import Foundation
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// The host schedule `NoiseSchedule`, in Double.
@Suite struct NoiseScheduleTests {
    static let grid = (0...1000).map { Double($0) / 1000 * NoiseSchedule.tMax }

    @Test func alphaAndSigmaAreTheCosineSchedule() {
        for t in Self.grid {
            let alpha = NoiseSchedule.alpha(t), sigma = NoiseSchedule.sigma(t)
            #expect(abs(alpha * alpha + sigma * sigma - 1) < 1e-12, "t = \(t)")
            let abar = pow(cos((t + 0.008) / 1.008 * Double.pi / 2), 2)
            #expect(abs(NoiseSchedule.alphaBar(t) - abar) < 1e-12, "t = \(t)")
            #expect(abs(NoiseSchedule.logSNR(t) - log(abar / (1 - abar))) < 1e-9 * max(1, abs(log(abar / (1 - abar)))))
        }
    }

    @Test func alphaFallsAndSigmaAndLogSNRAreMonotone() {
        for (a, b) in zip(Self.grid, Self.grid.dropFirst()) {
            #expect(NoiseSchedule.alpha(b) < NoiseSchedule.alpha(a))
            #expect(NoiseSchedule.sigma(b) > NoiseSchedule.sigma(a))
            #expect(NoiseSchedule.logSNR(b) < NoiseSchedule.logSNR(a))
        }
    }

    /// Outside [tMin, tMax] the schedule holds its end values, both positive.
    @Test func timesAreClamped() {
        #expect(NoiseSchedule.alpha(1) == NoiseSchedule.alpha(NoiseSchedule.tMax))
        #expect(NoiseSchedule.alpha(1) > 1e-5)
        #expect(NoiseSchedule.sigma(-0.5) == NoiseSchedule.sigma(0))
        #expect(NoiseSchedule.sigma(0) > 0.01)
        #expect(NoiseSchedule.logSNR(2).isFinite && NoiseSchedule.logSNR(-2).isFinite)
    }

    /// The sine forms equal the textbook ones away from cancellation.
    @Test func ddimCoefficientsMatchTheirDefinitions() {
        for (t, s) in [(0.9, 0.3), (0.5, 0.499), (0.2, 0.0), (1.0, 0.75)] {
            let (c, r) = NoiseSchedule.ddimCoefficients(t: t, s: s)
            let alphaT = NoiseSchedule.alpha(t), sigmaT = NoiseSchedule.sigma(t)
            let alphaS = NoiseSchedule.alpha(s), sigmaS = NoiseSchedule.sigma(s)
            #expect(abs(r - sigmaS / sigmaT) < 1e-14)
            #expect(abs(c - (alphaS - alphaT * sigmaS / sigmaT)) < 1e-12)
            let (a, b) = NoiseSchedule.inverseDDIMCoefficients(t: t, s: s)
            #expect(abs(a * c - 1) < 1e-12 && abs(b + r / c) < 1e-9)
        }
    }

    @Test func inverseDDIMDenominatorIsGuarded() {
        let (a, b) = NoiseSchedule.inverseDDIMCoefficients(t: 0.4, s: 0.4)
        #expect(a == 1 / NoiseSchedule.inverseDDIMMinDenominator && b == -a)
        #expect(NoiseSchedule.inverseDDIMCoefficients(t: 0.4, s: 0.4 + 1e-9).zs == -1 / NoiseSchedule.inverseDDIMMinDenominator)
    }

    @Test(arguments: [2, 3, 18, 40, 201])
    func karrasGridRunsFromSigmaMaxToSigmaMin(count: Int) {
        let sigmas = NoiseSchedule.karrasSigmas(count: count)
        #expect(sigmas.count == count)
        #expect(sigmas.first == 80 && sigmas.last == 0.002)
        #expect(zip(sigmas, sigmas.dropFirst()).allSatisfy { $0 > $1 })
        // An interior point against Karras et al. Eq. 5 directly.
        if count > 2 {
            let i = count / 2, rho = 7.0
            let expected = pow(pow(80, 1 / rho) + Double(i) / Double(count - 1) * (pow(0.002, 1 / rho) - pow(80, 1 / rho)), rho)
            #expect(abs(sigmas[i] / expected - 1) < 1e-14)
        }
    }
}
