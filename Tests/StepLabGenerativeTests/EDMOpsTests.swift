import Foundation
import OpenCLKit
import StepLabEngine
import StepLabTestSupport
import Testing
@testable import StepLabGenerative

/// The EDM and MCM kernel wrappers against their float64 twins on awkward shapes, through tensor views at a
/// non-zero offset (so a wrong offset argument shows), and edm_output_gradient against central differences.
@Suite struct EDMOpsTests {
    /// `values` in a view that starts 3 floats into its buffer, after NaNs.
    static func view(_ engine: Engine, _ values: [Float], rows: Int, columns: Int) throws -> Tensor {
        let storage = try engine.context.buffer([Float](repeating: .nan, count: 3) + values)
        return try Tensor(storage: storage, offset: 3, rows: rows, columns: columns)
    }

    /// An uninitialised (NaN-filled) offset view.
    static func output(_ engine: Engine, rows: Int, columns: Int) throws -> Tensor {
        try view(engine, [Float](repeating: .nan, count: rows * columns), rows: rows, columns: columns)
    }

    /// Log-uniform sigmas over the Karras range; row 0 is exactly sigmaMin, where the boundary scalings give
    /// c_skip = 1 and c_out = 0.
    static func sigmas(_ random: inout TestRandom, rows: Int, sigmaMin: Float = 0.002) -> [Float] {
        (0 ..< rows).map { r in r == 0 ? sigmaMin : Float(exp(Double(random.uniform(log(0.002), log(80))))) }
    }

    @Test(arguments: [1, 3, 17], [1, 2, 5])
    func noisePreconditionAndLossWeightMatchTheReference(rows: Int, d: Int) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(rows * 10 + d))
            let xv = random.array(rows * d, -3, 3), ev = random.array(rows * d, -3, 3), sv = Self.sigmas(&random, rows: rows)
            let x = try Self.view(engine, xv, rows: rows, columns: d), eps = try Self.view(engine, ev, rows: rows, columns: d)
            let sigma = try Self.view(engine, sv, rows: rows, columns: 1)

            let noisy = try Self.output(engine, rows: rows, columns: d)
            try engine.edmNoise(x, eps, sigma: sigma, into: noisy)
            expectClose(try noisy.download(), Reference.edmNoise(xv, ev, sigma: sv, columns: d), "edmNoise \(rows)x\(d)")

            for sd: Float in [1, 0.5] {
                let xin = try Self.output(engine, rows: rows, columns: d), cNoise = try Self.output(engine, rows: rows, columns: 1)
                try engine.edmPrecondition(x, sigma: sigma, sigmaData: sd, into: xin, cNoise: cNoise)
                let expected = Reference.edmPrecondition(xv, sigma: sv, columns: d, sigmaData: sd)
                expectClose(try xin.download(), expected.xin, "edmPrecondition xin \(rows)x\(d) sd \(sd)")
                expectClose(try cNoise.download(), expected.cNoise, "edmPrecondition cNoise \(rows)x\(d) sd \(sd)")

                let weight = try Self.output(engine, rows: rows, columns: 1)
                try engine.edmLossWeight(sigma: sigma, sigmaData: sd, into: weight)
                expectClose(try weight.download(), Reference.edmLossWeight(sigma: sv, sigmaData: sd), "edmLossWeight \(rows) sd \(sd)")
            }
        }
    }

    @Test(arguments: [1, 3, 17], [1, 2, 5])
    func outputAndItsGradientMatchTheReference(rows: Int, d: Int) throws {
        try SharedEngine.withEngine { engine in
            for boundary in [false, true] {
                for sd: Float in [1, 0.5] {
                    var random = TestRandom(seed: UInt64(rows * 10 + d) &+ (boundary ? 1000 : 0))
                    let xv = random.array(rows * d, -3, 3), nv = random.array(rows * d, -3, 3), gv = random.array(rows * d)
                    let sv = Self.sigmas(&random, rows: rows), sigmaMin: Float = 0.002
                    let x = try Self.view(engine, xv, rows: rows, columns: d), net = try Self.view(engine, nv, rows: rows, columns: d)
                    let g = try Self.view(engine, gv, rows: rows, columns: d), sigma = try Self.view(engine, sv, rows: rows, columns: 1)
                    let what = "\(rows)x\(d) boundary \(boundary) sd \(sd)"

                    let f = try Self.output(engine, rows: rows, columns: d)
                    try engine.edmOutput(x, network: net, sigma: sigma, sigmaData: sd, sigmaMin: sigmaMin, boundary: boundary, into: f)
                    let expected = Reference.edmOutput(xv, network: nv, sigma: sv, columns: d, sigmaData: sd, sigmaMin: sigmaMin,
                                                       boundary: boundary)
                    let fv = try f.download()
                    expectClose(fv, expected, "edmOutput \(what)")
                    if boundary {
                        #expect(fv[0 ..< d] == xv[0 ..< d], "f(x, sigmaMin) = x exactly, \(what)")
                    }

                    let gnet = try Self.output(engine, rows: rows, columns: d)
                    try engine.edmOutputGradient(sigma: sigma, outputGradient: g, sigmaData: sd, sigmaMin: sigmaMin, boundary: boundary,
                                                 into: gnet)
                    expectClose(try gnet.download(), Reference.edmOutputGradient(sigma: sv, outputGradient: gv, columns: d, sigmaData: sd,
                                                                                  sigmaMin: sigmaMin, boundary: boundary),
                                "edmOutputGradient \(what)")
                }
            }
        }
    }

    /// edm_output_gradient is d/dF of sum(f * probe): central differences of the float64 `Reference.edmOutput`
    /// in each network output.
    @Test(arguments: [(1, 1), (3, 2), (17, 5)])
    func outputGradientIsTheDerivativeOfTheOutput(rows: Int, d: Int) throws {
        try SharedEngine.withEngine { engine in
            for boundary in [false, true] {
                var random = TestRandom(seed: UInt64(rows * 10 + d) &+ 77)
                let xv = random.array(rows * d, -3, 3), nv = random.array(rows * d, -3, 3), probe = random.array(rows * d)
                let sv = Self.sigmas(&random, rows: rows), sd: Float = 0.5, sigmaMin: Float = 0.002
                let loss = { (network: [Double]) -> Double in
                    let f = Reference.edmOutput(xv.map(Double.init), network: network, sigma: sv.map(Double.init), columns: d,
                                                sigmaData: Double(sd), sigmaMin: Double(sigmaMin), boundary: boundary)
                    return zip(f, probe).reduce(0) { $0 + $1.0 * Double($1.1) }
                }
                let numeric = centralDifferences(at: nv.map(Double.init), loss)
                let gnet = try Self.output(engine, rows: rows, columns: d)
                try engine.edmOutputGradient(sigma: try Self.view(engine, sv, rows: rows, columns: 1),
                                             outputGradient: try Self.view(engine, probe, rows: rows, columns: d),
                                             sigmaData: sd, sigmaMin: sigmaMin, boundary: boundary, into: gnet)
                expectClose(try gnet.download(), numeric, rtol: 1e-5, atol: 1e-6, "finite differences \(rows)x\(d) boundary \(boundary)")
            }
        }
    }

    @Test(arguments: [1, 3, 17], [1, 2, 5])
    func toVPAndODEStepsMatchTheReference(rows: Int, d: Int) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(rows * 10 + d) &+ 500)
            let xv = random.array(rows * d, -3, 3), dv = random.array(rows * d, -3, 3), sv = Self.sigmas(&random, rows: rows)
            // Sampler-like steps: from > to > 0.
            let fromv = sv.map { $0 * 1.5 }, tov = sv
            let x = try Self.view(engine, xv, rows: rows, columns: d), denoised = try Self.view(engine, dv, rows: rows, columns: d)
            let sigma = try Self.view(engine, sv, rows: rows, columns: 1)
            let from = try Self.view(engine, fromv, rows: rows, columns: 1), to = try Self.view(engine, tov, rows: rows, columns: 1)

            let z = try Self.output(engine, rows: rows, columns: d), t = try Self.output(engine, rows: rows, columns: 1)
            try engine.edmToVP(x, sigma: sigma, into: z, t: t)
            let vp = Reference.edmToVP(xv, sigma: sv, columns: d)
            expectClose(try z.download(), vp.z, "edmToVP z \(rows)x\(d)")
            expectClose(try t.download(), vp.t, "edmToVP t \(rows)")

            let slope = try Self.output(engine, rows: rows, columns: d), next = try Self.output(engine, rows: rows, columns: d)
            try engine.edmEulerStep(x, denoised: denoised, from: from, to: to, slope: slope, into: next)
            let euler = Reference.edmEulerStep(xv, denoised: dv, from: fromv, to: tov, columns: d)
            expectClose(try slope.download(), euler.slope, "edmEulerStep slope \(rows)x\(d)")
            expectClose(try next.download(), euler.out, "edmEulerStep out \(rows)x\(d)")

            // Heun from the device's own Euler results, then in place into x, as the sampler runs it.
            let sl = try slope.download(), xe = try next.download(), d2 = random.array(rows * d, -3, 3)
            let denoised2 = try Self.view(engine, d2, rows: rows, columns: d)
            let heun = Reference.edmHeunStep(xv, slope: sl, xEuler: xe, denoised: d2, from: fromv, to: tov, columns: d)
            let out = try Self.output(engine, rows: rows, columns: d)
            try engine.edmHeunStep(x, slope: slope, xEuler: next, denoised: denoised2, from: from, to: to, into: out)
            expectClose(try out.download(), heun, "edmHeunStep \(rows)x\(d)")
            try engine.edmHeunStep(x, slope: slope, xEuler: next, denoised: denoised2, from: from, to: to, into: x)
            expectClose(try x.download(), heun, "edmHeunStep in place \(rows)x\(d)")
        }
    }

    @Test(arguments: [1, 3, 17], [1, 2, 5])
    func mcmTargetAndRowVarianceMatchTheReference(rows: Int, d: Int) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(rows * 10 + d) &+ 900)
            // Times as mcm_times draws them: S = 4 segments of 8 steps, row 0 at n_rel = 1 (s = tStep, the
            // anchor case) and row 1 at the top of the last segment (t = 1, clamped to tMax).
            let segments = 4, perSegment = 8, total = Float(segments * perSegment)
            var tv = [Float](), sv = [Float](), bv = [Float]()
            for r in 0 ..< rows {
                let step = r == 1 ? segments - 1 : Int(random.next() % UInt64(segments))
                let nRel = r == 0 ? 1 : r == 1 ? perSegment : 1 + Int(random.next() % UInt64(perSegment))
                let tStep = Float(step) / Float(segments), t = tStep + Float(nRel) / total
                tv.append(t); sv.append(t - 1 / total); bv.append(tStep)
            }
            let xv = random.array(rows * d, -2, 2), zsv = random.array(rows * d, -2, 2), ztv = random.array(rows * d, -2, 2)
            let xref = try Self.view(engine, xv, rows: rows, columns: d), zs = try Self.view(engine, zsv, rows: rows, columns: d)
            let zt = try Self.view(engine, ztv, rows: rows, columns: d)
            let t = try Self.view(engine, tv, rows: rows, columns: 1), s = try Self.view(engine, sv, rows: rows, columns: 1)
            let tStep = try Self.view(engine, bv, rows: rows, columns: 1)
            let target = try Self.output(engine, rows: rows, columns: d), weight = try Self.output(engine, rows: rows, columns: 1)
            try engine.mcmTarget(xref: xref, zs: zs, zt: zt, t: t, s: s, tStep: tStep, into: target, weight: weight)
            let expected = Reference.mcmTarget(xref: xv, zs: zsv, zt: ztv, t: tv, s: sv, tStep: bv, columns: d)
            // Room for devices without doubles, where the float inverse step amplifies rounding by
            // sigma_t / sin((t - tStep) k), up to about 20 here (POCL, with doubles, agrees to 1e-6).
            expectClose(try target.download(), expected.target, rtol: 1e-4, atol: 1e-4, "mcmTarget \(rows)x\(d)")
            expectClose(try weight.download(), expected.weight, rtol: 1e-5, atol: 1e-6, "mcmTarget weight \(rows)")

            let variance = try Self.output(engine, rows: rows, columns: 1)
            try engine.rowVariance(zs, zt, eta: 0.75, into: variance)
            expectClose(try variance.download(), Reference.rowVariance(zsv, ztv, columns: d, eta: 0.75), "rowVariance \(rows)x\(d)")
        }
    }

    @Test func mismatchedShapesAreRefused() throws {
        try SharedEngine.withEngine { engine in
            let x = try engine.tensor(filled: 0, rows: 3, columns: 2), wide = try engine.tensor(filled: 0, rows: 3, columns: 3)
            let column = try engine.tensor(filled: 1, rows: 3, columns: 1), short = try engine.tensor(filled: 1, rows: 2, columns: 1)
            #expect(throws: OpenCLError.invalidRequest("edmNoise: shape 3x3 does not match 3x2")) {
                try engine.edmNoise(x, wide, sigma: column, into: x)
            }
            #expect(throws: OpenCLError.invalidRequest("edmOutput: expected a 3x1 column, got 2x1")) {
                try engine.edmOutput(x, network: x, sigma: short, sigmaData: 1, sigmaMin: 0.002, boundary: true, into: x)
            }
            #expect(throws: OpenCLError.invalidRequest("edmPrecondition: expected a 3x1 column, got 3x2")) {
                try engine.edmPrecondition(x, sigma: column, sigmaData: 1, into: x, cNoise: x)
            }
            #expect(throws: OpenCLError.invalidRequest("edmLossWeight: expected a 3x1 column, got 2x1")) {
                try engine.edmLossWeight(sigma: column, sigmaData: 1, into: short)
            }
            #expect(throws: OpenCLError.invalidRequest("mcmTarget: expected a 3x1 column, got 2x1")) {
                try engine.mcmTarget(xref: x, zs: x, zt: x, t: column, s: column, tStep: short, into: x, weight: column)
            }
            #expect(throws: OpenCLError.invalidRequest("rowVariance: shape 3x3 does not match 3x2")) {
                try engine.rowVariance(x, wide, eta: 1, into: column)
            }
            let cases: [(String, () throws(OpenCLError) -> Void)] = [
                ("edmToVP", { () throws(OpenCLError) in try engine.edmToVP(x, sigma: column, into: wide, t: column) }),
                ("edmEulerStep", { () throws(OpenCLError) in
                    try engine.edmEulerStep(x, denoised: x, from: column, to: short, slope: x, into: x) }),
                ("edmHeunStep", { () throws(OpenCLError) in
                    try engine.edmHeunStep(x, slope: wide, xEuler: x, denoised: x, from: column, to: column, into: x) }),
                ("edmOutputGradient", { () throws(OpenCLError) in
                    try engine.edmOutputGradient(sigma: column, outputGradient: x, sigmaData: 1, sigmaMin: 0.002, boundary: false, into: wide) }),
            ]
            for (what, op) in cases {
                do throws(OpenCLError) {
                    try op()
                    Issue.record("\(what) accepted mismatched shapes")
                } catch {
                    guard case let .invalidRequest(message) = error else { Issue.record("\(what): \(error)"); continue }
                    #expect(message.hasPrefix(what + ":"), "\(message)")
                }
            }
        }
    }
}
