import Foundation
import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// The ops the layers are built from against their CPU twins on awkward shapes, and every layer's backward
/// (alone and composed into whole networks) against central differences of a float64 reference.
@Suite struct LayerGradientTests {
    /// sum(y * probe): a loss whose gradient with respect to y is `probe`.
    static func probed(_ y: [Double], _ probe: [Float]) -> Double { zip(y, probe).reduce(0) { $0 + $1.0 * Double($1.1) } }

    @Test(arguments: [MatmulTuning(variant: .cpu), MatmulTuning(variant: .cpu, mr: 3, splitKChunk: 16, bandKilobytes: 1),
                      MatmulTuning(variant: .tiled)])
    func residualAndAccumulateEpiloguesMatchTheReference(tuning: MatmulTuning) throws {
        try SharedEngine.withEngine(tuning: tuning) { engine in
            // (37, 2, 19) with A transposed takes the narrow path; (5, 7, 131) split-K with variants[1].
            for (m, n, k) in [(1, 1, 1), (3, 17, 31), (257, 33, 65), (5, 7, 131), (37, 2, 19)] {
                for transposeA in [false, true] {
                    var random = TestRandom(seed: UInt64(m * 7 + n * 3 + k))
                    let (ar, ac) = transposeA ? (k, m) : (m, k)
                    let av = random.array(m * k), bv = random.array(k * n), biasv = random.array(n), rv = random.array(m * n)
                    let a = try engine.tensor(av, rows: ar, columns: ac), b = try engine.tensor(bv, rows: k, columns: n)
                    let bias = try engine.tensor(biasv, rows: 1, columns: n), r = try engine.tensor(rv, rows: m, columns: n)
                    let c = try engine.tensor(filled: .nan, rows: m, columns: n)
                    try engine.matmul(a, transposeA: transposeA, b, into: c, epilogue: .biasResidual(bias: bias, residual: r))
                    let expected = Reference.matmul(av, rows: ar, columns: ac, transposeA: transposeA, bv, rows: k, columns: n,
                                                    transposeB: false, bias: biasv, add: rv).c
                    expectClose(try c.download(), expected, rtol: 1e-4, atol: 1e-4, "residual \(m)x\(n)x\(k) ta=\(transposeA)")
                    // The residual stream itself as the output (in place), then accumulation into it.
                    try engine.matmul(a, transposeA: transposeA, b, into: r, epilogue: .biasResidual(bias: bias, residual: r))
                    expectClose(try r.download(), expected, rtol: 1e-4, atol: 1e-4, "in-place residual \(m)x\(n)x\(k)")
                    try engine.matmul(a, transposeA: transposeA, b, into: r, epilogue: .accumulate)
                    let twice = Reference.matmul(av, rows: ar, columns: ac, transposeA: transposeA, bv, rows: k, columns: n,
                                                 transposeB: false, add: expected).c
                    expectClose(try r.download(), twice, rtol: 1e-4, atol: 1e-4, "accumulate \(m)x\(n)x\(k) ta=\(transposeA)")
                }
            }
        }
    }

    @Test(arguments: [(1, 1), (3, 17), (300, 5), (1030, 33)])
    func columnSumsAccumulate(rows: Int, columns: Int) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(rows + columns))
            let xv = random.array(rows * columns), start = random.array(columns)
            let x = try engine.tensor(xv, rows: rows, columns: columns), out = try engine.tensor(start, rows: 1, columns: columns)
            try engine.columnSums(x, alpha: 0.5, accumulate: true, into: out)
            let sums = Reference.columnSums(xv, rows: rows, columns: columns, alpha: 0.5)
            expectClose(try out.download(), zip(sums, start).map { $0 + $1 }, rtol: 1e-5, atol: 1e-5)
        }
    }

    /// 12 and 40 columns take the kernels' 4- and 8-wide vectors with their one-group folds over the lanes.
    @Test(arguments: [(1, 2), (3, 1), (5, 7), (17, 33), (2, 257), (4, 12), (3, 40)])
    func layerNormMatchesItsReference(rows: Int, columns: Int) throws {
        try SharedEngine.withEngine { engine in
            for (modulated, activation) in [(false, Activation.identity), (true, .identity), (true, .silu), (false, .gelu)] {
                var random = TestRandom(seed: UInt64(rows * 100 + columns) &+ (modulated ? 1 : 0))
                let xv = random.array(rows * columns, -3, 3), dyv = random.array(rows * columns), dxv = random.array(rows * columns)
                // The modulation sits at column 3 of a wider conditioning matrix, as a middle block's would.
                let width = 2 * columns + 5
                let cv = random.array(rows * width)
                let scale = (0 ..< rows * columns).map { cv[($0 / columns) * width + 3 + $0 % columns] }
                let shift = (0 ..< rows * columns).map { cv[($0 / columns) * width + 3 + columns + $0 % columns] }
                let x = try engine.tensor(xv, rows: rows, columns: columns), y = try engine.tensor(rows: rows, columns: columns)
                let stats = try engine.tensor(rows: rows, columns: 2), conditioning = try engine.tensor(cv, rows: rows, columns: width)
                let modulation = modulated ? Modulation(values: conditioning, column: 3) : nil
                try engine.layerNorm(x, modulation: modulation, activation: activation, into: y, stats: stats)
                let expected = Reference.layerNorm(xv, rows: rows, columns: columns, scale: modulated ? scale : nil,
                                                   shift: modulated ? shift : nil, activation: activation)
                expectClose(try y.download(), expected.y, rtol: 2e-5, atol: 2e-5, "forward \(rows)x\(columns) \(activation)")

                let dy = try engine.tensor(dyv, rows: rows, columns: columns), dx = try engine.tensor(dxv, rows: rows, columns: columns)
                let dmod = try engine.tensor(filled: 7, rows: rows, columns: width)
                try engine.layerNormBackward(dy, input: x, stats: stats, modulation: modulation, modulationGradient: dmod,
                                             activation: activation, accumulate: modulated, into: dx)
                let back = Reference.layerNormBackward(dyv, xv, rows: rows, columns: columns, scale: modulated ? scale : nil,
                                                       shift: modulated ? shift : nil, activation: activation)
                expectClose(try dx.download(), zip(dxv, back.dx).map { (modulated ? $0 : 0) + $1 }, rtol: 1e-4, atol: 1e-4, "dx \(rows)x\(columns)")
                if modulated {
                    let got = try dmod.download()
                    let dscale = (0 ..< rows * columns).map { got[($0 / columns) * width + 3 + $0 % columns] }
                    let dshift = (0 ..< rows * columns).map { got[($0 / columns) * width + 3 + columns + $0 % columns] }
                    expectClose(dscale, back.dscale, rtol: 1e-4, atol: 1e-5, "dscale")
                    expectClose(dshift, back.dshift, rtol: 1e-4, atol: 1e-5, "dshift")
                    // Columns outside this block's slice are left alone.
                    #expect((0 ..< rows).allSatisfy { got[$0 * width] == 7 && got[$0 * width + width - 1] == 7 })
                }
            }
        }
    }

    @Test func layerNormReferenceBackwardIsTheGradient() {
        let (rows, columns) = (3, 5)
        var random = TestRandom(seed: 41)
        let x = random.array(rows * columns, -2, 2), scale = random.array(rows * columns), shift = random.array(rows * columns)
        let probe = random.array(rows * columns)
        let back = Reference.layerNormBackward(probe, x, rows: rows, columns: columns, scale: scale, shift: shift, activation: .silu)
        func loss(_ x: [Double], _ s: [Double], _ b: [Double]) -> Double {
            Self.probed(Reference.layerNorm(x, rows: rows, columns: columns, scale: s, shift: b, activation: .silu).y, probe)
        }
        let (xd, sd, bd) = (x.map(Double.init), scale.map(Double.init), shift.map(Double.init))
        expectClose(back.dx, centralDifferences(at: xd) { loss($0, sd, bd) }, rtol: 1e-4, atol: 1e-6, "dx")
        expectClose(back.dscale, centralDifferences(at: sd) { loss(xd, $0, bd) }, rtol: 1e-4, atol: 1e-6, "dscale")
        expectClose(back.dshift, centralDifferences(at: bd) { loss(xd, sd, $0) }, rtol: 1e-4, atol: 1e-6, "dshift")
    }

    /// The whole resmlp (time MLP, FiLM-modulated blocks with residual adds, final norm) against central
    /// differences of its float64 reference, at random parameters (the zero-initialised fc2 would otherwise hide
    /// every gradient behind it).
    /// With one time, and two (each embedded, side by side into the time MLP).
    @Test(arguments: [1, 2])
    func residualMLPGradientsMatchFiniteDifferences(times: Int) throws {
        try SharedEngine.withEngine { engine in
            let config = ResidualMLPConfig(inputs: 5, width: 6, blocks: 2, outputs: 3, frequencies: 2, timeScale: 3, times: times)
            let network = try ResidualMLP(engine: engine, config: config, seed: 5)
            let pass = try NetworkPass(network, engine: engine, batch: 4, times: times, seed: 8, bound: 0.6)
            let (batch, xd, t, probe, flat) = (pass.batch, pass.input, pass.times, pass.probe, pass.parameters)
            expectClose(try pass.output.download(),
                        Reference.residualMLPForward(config, parameters: pass.named(flat), input: xd, t: t, batch: batch).map(Float.init),
                        rtol: 1e-4, atol: 1e-5, "forward")
            let numeric = centralDifferences(at: flat) {
                Self.probed(Reference.residualMLPForward(config, parameters: pass.named($0), input: xd, t: t, batch: batch), probe)
            }
            expectClose(try network.parameters.gradients.download(), numeric, rtol: 2e-3, atol: 2e-5, "parameter gradients")
            let numericInput = centralDifferences(at: xd) {
                Self.probed(Reference.residualMLPForward(config, parameters: pass.named(flat), input: $0, t: t, batch: batch), probe)
            }
            expectClose(try pass.inputGradient.download(), numericInput, rtol: 2e-3, atol: 2e-5, "input gradients")
            // Gradients accumulate: a second backward of the same pass doubles them.
            let once = try network.parameters.gradients.download()
            try network.backward(engine.tensor(probe, rows: batch, columns: config.outputs), tape: pass.tape)
            expectClose(try network.parameters.gradients.download(), once.map { 2 * $0 }, rtol: 1e-5, atol: 1e-6, "accumulated")
        }
    }

    @Test func aNewResidualMLPStartsAsItsOuterLayers() throws {
        try SharedEngine.withEngine { engine in
            let network = try ResidualMLP(engine: engine, config: ResidualMLPConfig(inputs: 3, width: 8, blocks: 3, outputs: 2), seed: 1)
            let named = Dictionary(uniqueKeysWithValues: try network.parameters.export().map { ($0.name, $0.values) })
            #expect((0 ..< 3).allSatisfy { named["blocks.\($0).fc2.weight"]!.allSatisfy { $0 == 0 } })
            #expect(named["blocks.0.fc1.weight"]!.contains { $0 != 0 })
            #expect(named["time.2.weight"]!.count == 8 * 2 * 8 * 3)
        }
    }
}
