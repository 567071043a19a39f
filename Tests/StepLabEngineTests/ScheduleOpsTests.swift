import Foundation
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// Per-row schedule kernels against `Reference`, and the DDIM identities on the device.
@Suite struct ScheduleOpsTests {
    static func shapes(_ n: Int) -> [(rows: Int, columns: Int)] { [(n, 3), (2, n)] }

    /// OpenCL bounds sin to 4 ulp and log to 3 ulp; alpha and sigma are one sine of an angle formed with
    /// two roundings, about 6 ulp = 4e-7 relative, so rtol 1e-6. logSNR = 2 (log alpha - log sigma) adds
    /// those relative errors as absolute ones: atol 4e-6.
    @Test(arguments: ElementwiseTests.sizes)
    func cosineScheduleMatchesReference(count: Int) throws {
        var random = TestRandom(seed: 11)
        let t = random.array(count, -0.1, 1.1)
        let expected = Reference.cosineSchedule(t)
        try SharedEngine.withEngine { engine in
            let tt = try engine.tensor(t, rows: count, columns: 1)
            let alpha = try engine.tensor(rows: count, columns: 1), sigma = try engine.tensor(rows: count, columns: 1)
            let logSNR = try engine.tensor(rows: count, columns: 1)
            try engine.cosineSchedule(tt, alpha: alpha, sigma: sigma, logSNR: logSNR)
            let a = try alpha.download(), s = try sigma.download()
            expectClose(a, expected.alpha, rtol: 1e-6, atol: 0, "alpha")
            expectClose(s, expected.sigma, rtol: 1e-6, atol: 0, "sigma")
            expectClose(try logSNR.download(), expected.logSNR, rtol: 1e-6, atol: 4e-6, "logSNR")
            for i in 0..<count { #expect(abs(a[i] * a[i] + s[i] * s[i] - 1) <= 1e-6, "t = \(t[i])") }
        }
    }

    /// On a grid of 1001 times in [0, tMax]: alpha strictly falls, sigma and the negated logSNR strictly rise
    /// (neighbouring values differ by at least 2e-5, far above float rounding).
    @Test func deviceScheduleIsMonotone() throws {
        let n = 1001
        let t = (0..<n).map { Float(Double($0) / Double(n - 1) * NoiseSchedule.tMax) }
        try SharedEngine.withEngine { engine in
            let tt = try engine.tensor(t, rows: n, columns: 1)
            let alpha = try engine.tensor(rows: n, columns: 1), sigma = try engine.tensor(rows: n, columns: 1)
            let logSNR = try engine.tensor(rows: n, columns: 1)
            try engine.cosineSchedule(tt, alpha: alpha, sigma: sigma, logSNR: logSNR)
            let a = try alpha.download(), s = try sigma.download(), l = try logSNR.download()
            for i in 1..<n {
                #expect(a[i] < a[i - 1] && s[i] > s[i - 1] && l[i] < l[i - 1], "t = \(t[i])")
            }
            #expect(a.last! > 0 && s.first! > 0)
        }
    }

    /// Each op combines terms up to 2 in size (|x| <= 1.5, |eps| <= 2) with coefficients good to about
    /// 6 ulp, plus a few roundings: about 10 ulp of 2, 1.2e-6, so rtol 2e-6 and atol 2e-6. aDDIM also
    /// sums |eps_hat|^2 in another order, which only moves its small excess term. Inverse DDIM divides by
    /// c >= 0.078 here: formed in double (fp64) only the final rounding is left, so 2e-6 holds; in float the
    /// numerator's ~4 ulp of 3.5 times 13 gives 3e-5 (`ScheduleFallbackTests`). POCL measured: 1.7e-7 for
    /// addNoise, ddimStep and aDDIMStep, 0 for inverse DDIM with fp64, 1.1e-6 in float.
    @Test(arguments: ElementwiseTests.sizes)
    func rowOpsMatchTheirReferences(count: Int) throws {
        for (rows, columns) in Self.shapes(count) {
            let b = ScheduleBatch(rows: rows, columns: columns, seed: UInt64(count * 7 + columns))
            let zs = Reference.ddimStep(xhat: b.xhat, zt: b.zt, t: b.t, s: b.s, columns: columns)
            let shape = "\(rows)x\(columns)"
            try SharedEngine.withEngine { engine in
                let d = try b.upload(engine), out = try b.matrix(engine)

                try engine.addNoise(d.x, d.eps, t: d.t, into: out)
                expectClose(try out.download(), b.zt, rtol: 2e-6, atol: 2e-6, "addNoise \(shape)")

                try engine.ddimStep(xhat: d.xhat, zt: d.zt, t: d.t, s: d.s, into: out)
                expectClose(try out.download(), zs, rtol: 2e-6, atol: 2e-6, "ddimStep \(shape)")

                try engine.aDDIMStep(xhat: d.xhat, zt: d.zt, xVar: d.xVar, t: d.t, s: d.s, into: out)
                let addim = Reference.aDDIMStep(xhat: b.xhat, zt: b.zt, xVar: b.xVar, t: b.t, s: b.s, columns: columns)
                expectClose(try out.download(), addim, rtol: 2e-6, atol: 2e-6, "aDDIMStep \(shape)")

                let inverseTolerance: Float = engine.device.supportsFP64 ? 2e-6 : 3e-5
                try engine.inverseDDIM(zs: b.matrix(engine, zs), zt: d.zt, t: d.t, s: d.s, into: out)
                expectClose(try out.download(), Reference.inverseDDIM(zs: zs, zt: b.zt, t: b.t, s: b.s, columns: columns),
                            rtol: inverseTolerance, atol: inverseTolerance, "inverseDDIM \(shape)")
            }
        }
    }

    /// With the true x, DDIM keeps the noise: z_s = alpha_s x + sigma_s eps (MCM Algorithm 1, the
    /// consistency-training teacher step). z_t is formed on the device too; its rounding, divided by
    /// sigma_t and multiplied by sigma_s <= sigma_t, stays below 1e-5.
    @Test func ddimWithTheTrueDataKeepsTheNoise() throws {
        let b = ScheduleBatch(rows: 257, columns: 5, seed: 3)
        try SharedEngine.withEngine { engine in
            let d = try b.upload(engine), z = try b.matrix(engine)
            try engine.addNoise(d.x, d.eps, t: d.t, into: z)
            try engine.ddimStep(xhat: d.x, zt: z, t: d.t, s: d.s, into: z)
            expectClose(try z.download(), Reference.addNoise(b.x, b.eps, t: b.s, columns: b.columns),
                        rtol: 0, atol: 1e-5, "DDIM(x, z_t)")
        }
    }

    /// invDDIM inverts DDIM: x -> z_s = DDIM(x, z_t) -> invDDIM(z_s, z_t) = x. z_s (|z_s| < 4) is rounded
    /// to float between the two, and the inverse multiplies that 2.4e-7 by up to 1 / 0.078 = 13: atol 1e-5.
    @Test func inverseDDIMUndoesDDIM() throws {
        let b = ScheduleBatch(rows: 1000, columns: 4, seed: 5)
        try SharedEngine.withEngine { engine in
            let d = try b.upload(engine), zs = try b.matrix(engine)
            try engine.ddimStep(xhat: d.xhat, zt: d.zt, t: d.t, s: d.s, into: zs)
            try engine.inverseDDIM(zs: zs, zt: d.zt, t: d.t, s: d.s, into: zs)
            expectClose(try zs.download(), b.xhat, rtol: 0, atol: 1e-5, "invDDIM(DDIM(x))")
        }
    }

    /// The aDDIM excess term vanishes exactly when x_var = 0, in place as well.
    @Test func aDDIMWithoutVarianceIsDDIM() throws {
        let b = ScheduleBatch(rows: 31, columns: 257, seed: 9)
        try SharedEngine.withEngine { engine in
            let d = try b.upload(engine), ddim = try b.matrix(engine)
            let zero = try engine.tensor(filled: 0, rows: b.rows, columns: 1)
            try engine.ddimStep(xhat: d.xhat, zt: d.zt, t: d.t, s: d.s, into: ddim)
            try engine.aDDIMStep(xhat: d.xhat, zt: d.zt, xVar: zero, t: d.t, s: d.s, into: d.zt)
            #expect(try d.zt.download() == ddim.download())
        }
    }

    /// aDDIM only lengthens eps_hat (MCM Eq. 10-14: DDIM's iterate has too small a norm).
    @Test func aDDIMAddsNoiseAlongEpsHat() throws {
        let b = ScheduleBatch(rows: 64, columns: 17, seed: 13)
        try SharedEngine.withEngine { engine in
            let d = try b.upload(engine), ddim = try b.matrix(engine), addim = try b.matrix(engine)
            try engine.ddimStep(xhat: d.xhat, zt: d.zt, t: d.t, s: d.s, into: ddim)
            try engine.aDDIMStep(xhat: d.xhat, zt: d.zt, xVar: d.xVar, t: d.t, s: d.s, into: addim)
            let plain = try ddim.download(), adjusted = try addim.download()
            for r in 0..<b.rows {
                let alphaT = Float(NoiseSchedule.alpha(Double(b.t[r])))
                let along = (r * b.columns ..< (r + 1) * b.columns).reduce(Float(0)) { sum, i in
                    sum + (adjusted[i] - plain[i]) * (b.zt[i] - alphaT * b.xhat[i])
                }
                #expect(along >= 0, "row \(r)")
            }
        }
    }

    /// t = s gives a finite answer (zero for consistent inputs) instead of a division by zero.
    @Test func inverseDDIMAtEqualTimesIsFinite() throws {
        let b = ScheduleBatch(rows: 17, columns: 3, seed: 17)
        try SharedEngine.withEngine { engine in
            let d = try b.upload(engine), x = try b.matrix(engine)
            try engine.inverseDDIM(zs: d.zt, zt: d.zt, t: d.t, s: d.t, into: x)
            #expect(try x.download() == [Float](repeating: 0, count: b.rows * b.columns))
        }
    }

    @Test func mismatchedShapesAreRefused() throws {
        try SharedEngine.withEngine { engine in
            let z = try engine.tensor(rows: 4, columns: 3), t = try engine.tensor(rows: 4, columns: 1)
            let wrongT = try engine.tensor(rows: 3, columns: 1), wide = try engine.tensor(rows: 4, columns: 2)
            #expect(throws: (any Error).self) { try engine.addNoise(z, z, t: wrongT, into: z) }
            #expect(throws: (any Error).self) { try engine.ddimStep(xhat: z, zt: wide, t: t, s: t, into: z) }
            #expect(throws: (any Error).self) { try engine.aDDIMStep(xhat: z, zt: z, xVar: wide, t: t, s: t, into: z) }
            #expect(throws: (any Error).self) { try engine.inverseDDIM(zs: z, zt: z, t: t, s: wide, into: z) }
        }
    }
}
