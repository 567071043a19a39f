import Foundation
import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// Every op's tangent rule, and whole networks' `jvp`, against central differences of their float64 twins along the
/// same direction, on awkward shapes.
@Suite struct TangentTests {
    static func moved(_ x: [Float], _ dx: [Float], _ e: Double) -> [Double] { zip(x, dx).map { Double($0) + e * Double($1) } }

    @Test(arguments: GroupNormVariant.allCases, [(1, 1, 2, 1), (2, 3, 6, 3), (3, 5, 7, 1), (2, 4, 4, 2), (2, 3, 16, 4), (1, 2, 300, 2), (2, 3, 8, 1), (2, 3, 16, 2)])
    func groupNormTangentMatchesCentralDifferences(variant: GroupNormVariant, shape: (Int, Int, Int, Int)) throws {
        let (samples, pixels, channels, groups) = shape
        try SharedEngine.withEngine(groupNorm: variant) { engine in
            let cases: [(modulated: Bool, activation: Activation, inputTangent: Bool, modulationTangent: Bool)] =
                [(false, .identity, true, false), (true, .silu, true, true), (true, .gelu, false, true), (true, .identity, true, false)]
            for (index, c) in cases.enumerated() {
                var random = TestRandom(seed: UInt64(samples * 1000 + pixels * 100 + channels * 10 + index))
                let rows = samples * pixels, width = 2 * channels + 3, column = 1
                let xv = random.array(rows * channels, -2, 2), txv = random.array(rows * channels)
                let cv = random.array(samples * width), tcv = random.array(samples * width)
                let x = try engine.tensor(xv, rows: rows, columns: channels), y = try engine.tensor(rows: rows, columns: channels)
                let stats = try engine.tensor(rows: samples, columns: 2 * groups)
                let conditioning = try engine.tensor(cv, rows: samples, columns: width)
                let modulation = c.modulated ? Modulation(values: conditioning, column: column) : nil
                try engine.groupNorm(x, pixels: pixels, groups: groups, modulation: modulation, activation: c.activation, into: y, stats: stats)
                let ty = try engine.tensor(filled: .nan, rows: rows, columns: channels)
                try engine.groupNormTangent(x, tangent: c.inputTangent ? engine.tensor(txv, rows: rows, columns: channels) : nil,
                                            pixels: pixels, groups: groups, stats: stats, modulation: modulation,
                                            modulationTangent: c.modulationTangent ? engine.tensor(tcv, rows: samples, columns: width) : nil,
                                            activation: c.activation, into: ty)
                func slice(_ values: [Double], _ offset: Int) -> [Double] {
                    var out: [Double] = []
                    for n in 0 ..< samples {
                        let start = n * width + column + offset
                        out += values[start ..< start + channels]
                    }
                    return out
                }
                let zeros = [Float](repeating: 0, count: max(xv.count, cv.count))
                let expected = directionalDerivative { e in
                    let xe = Self.moved(xv, c.inputTangent ? txv : zeros, e)
                    let ce = Self.moved(cv, c.modulationTangent ? tcv : zeros, e)
                    return Reference.groupNorm(xe, pixels: pixels, channels: channels, groups: groups,
                                               scale: c.modulated ? slice(ce, 0) : nil, shift: c.modulated ? slice(ce, channels) : nil,
                                               activation: c.activation).y
                }
                expectClose(try ty.download(), expected, rtol: 1e-3, atol: 1e-4, "case \(index), \(samples)x\(pixels)x\(channels)/\(groups)")
            }
        }
    }

    /// One time per row, and two (each time's embedding side by side).
    @Test(arguments: [(1, 1, 1, Float(3)), (5, 3, 1, 3), (7, 8, 1, 1000), (3, 3, 2, 3)])
    func timeEmbeddingTangentMatchesTheDerivative(rows: Int, frequencies: Int, times: Int, scale: Float) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(rows * 10 + frequencies))
            let t = random.array(rows * times, 0, 1), dt = random.array(rows * times)
            let width = 2 * frequencies * times
            let emb = try engine.tensor(rows: rows, columns: width), tangent = try engine.tensor(rows: rows, columns: width)
            try engine.timeEmbedding(engine.tensor(t, rows: rows, columns: times), scale: scale, into: emb)
            try engine.timeEmbeddingTangent(emb, timeTangent: engine.tensor(dt, rows: rows, columns: times), scale: scale, into: tangent)
            // d/dε of sin(s (t + ε dt) f) and cos(...), in float64; each time of a row in turn (t is row-major).
            let expected = (0 ..< rows * times).flatMap { r -> [Float] in
                let rates = (0 ..< frequencies).map { Double(scale) * exp(-log(10000.0) * Double($0) / Double(frequencies)) }
                let angles = rates.map { $0 * Double(t[r]) }
                return zip(rates, angles).map { Float($0 * cos($1) * Double(dt[r])) }
                    + zip(rates, angles).map { Float(-$0 * sin($1) * Double(dt[r])) }
            }
            expectClose(try tangent.download(), expected, rtol: 1e-3, atol: 1e-3 * scale, "\(rows)x\(times), F = \(frequencies), scale \(scale)")
        }
    }

    @Test(arguments: [(1, 1, 2, 1), (2, 3, 4, 2), (2, 5, 6, 3)])
    func attentionTangentMatchesCentralDifferences(samples: Int, tokens: Int, channels: Int, heads: Int) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(samples * 100 + tokens * 10 + channels))
            let rows = samples * tokens
            let qv = random.array(rows * 3 * channels, -2, 2), tqv = random.array(rows * 3 * channels)
            let qkv = try engine.tensor(qv, rows: rows, columns: 3 * channels)
            let probabilities = try engine.tensor(rows: samples * heads * tokens, columns: tokens)
            let output = try engine.tensor(rows: rows, columns: channels), tangent = try engine.tensor(rows: rows, columns: channels)
            try engine.attention(qkv, tokens: tokens, heads: heads, probabilities: probabilities, into: output)
            try engine.attentionTangent(engine.tensor(tqv, rows: rows, columns: 3 * channels), qkv: qkv, tokens: tokens, heads: heads,
                                        probabilities: probabilities,
                                        probabilitiesTangent: engine.tensor(rows: probabilities.rows, columns: tokens), into: tangent)
            let expected = directionalDerivative { e in
                Reference.attention(Self.moved(qv, tqv, e), tokens: tokens, channels: channels, heads: heads).output
            }
            expectClose(try tangent.download(), expected, rtol: 1e-3, atol: 1e-4, "\(samples)x\(tokens)x\(channels)/\(heads)")
        }
    }

    /// A network's jvp at random parameters, inputs and times along a random (ẋ, ṫ), against the directional
    /// derivative of its float64 twin; with `recording`, the same pass's backward gives the plain pass's gradients.
    static func checkJVP(_ network: any Network, engine: Engine, batch: Int, times: Int, seed: UInt64,
                         reference: ([String: [Double]], [Double], [Float]) -> [Double]) throws {
        let timed = times > 0
        var random = TestRandom(seed: seed)
        try network.parameters.values.upload(random.array(network.parameters.count, -0.5, 0.5))
        let xv = random.array(batch * network.inputs, -2, 2), txv = random.array(batch * network.inputs)
        let tv = random.array(batch * max(times, 1), 0.2, 0.8), ttv = random.array(batch * max(times, 1))
        let x = try engine.tensor(xv, rows: batch, columns: network.inputs)
        let t = timed ? try engine.tensor(tv, rows: batch, columns: times) : nil
        let tape = network.makeTape()
        let (output, tangent) = try network.jvp(x, tangent: engine.tensor(txv, rows: batch, columns: network.inputs), time: t,
                                                timeTangent: timed ? engine.tensor(ttv, rows: batch, columns: times) : nil,
                                                tape: tape, recording: true)
        let flat = try network.parameters.values.download().map(Double.init)
        let named = Dictionary(uniqueKeysWithValues: network.parameters.entries.map { ($0.name, Array(flat[$0.offset ..< $0.offset + $0.count])) })
        expectClose(try output.download(), reference(named, xv.map(Double.init), tv).map(Float.init), rtol: 1e-4, atol: 1e-5, "output")
        // Times are float in the twin: a wider step keeps their rounding (1e-7) small against the difference.
        let expected = directionalDerivative(step: 1e-3) { e in
            reference(named, moved(xv, txv, e), timed ? zip(tv, ttv).map { Float(Double($0) + e * Double($1)) } : tv)
        }
        expectClose(try tangent.download(), expected, rtol: 2e-3, atol: 2e-4, "tangent")

        let probe = try engine.tensor(random.array(batch * network.outputs), rows: batch, columns: network.outputs)
        try network.parameters.zeroGradients(engine: engine)
        try network.backward(probe, tape: tape)
        let throughJVP = try network.parameters.gradients.download()
        try network.run(x, time: t, tape: tape)
        try network.parameters.zeroGradients(engine: engine)
        try network.backward(probe, tape: tape)
        #expect(try network.parameters.gradients.download() == throughJVP, "a recorded jvp's backward equals the plain pass's")
    }

    @Test func mlpJVPMatchesCentralDifferences() throws {
        try SharedEngine.withEngine { engine in
            let config = MLPConfig(inputs: 3, width: 5, depth: 2, outputs: 2, activation: .gelu)
            try Self.checkJVP(MLP(engine: engine, config: config, seed: 1), engine: engine, batch: 3, times: 0, seed: 2) { p, x, _ in
                Reference.mlpForward(config, parameters: p, input: x, batch: 3)
            }
        }
    }

    /// One time, and two (MeanFlow's (r, t)): each time's embedding and its tangent side by side.
    @Test(arguments: [1, 2])
    func residualMLPJVPMatchesCentralDifferences(times: Int) throws {
        try SharedEngine.withEngine { engine in
            let config = ResidualMLPConfig(inputs: 5, width: 6, blocks: 2, outputs: 3, frequencies: 2, timeScale: 3, times: times)
            try Self.checkJVP(ResidualMLP(engine: engine, config: config, seed: 1), engine: engine, batch: 4, times: times, seed: 3) { p, x, t in
                Reference.residualMLPForward(config, parameters: p, input: x, t: t, batch: 4)
            }
        }
    }

    /// The U-Net with attention, through the in-place convolutions of both matmul variants (conv_cpu, conv_tiled).
    /// Two times on the GPU variant, so both paths and both conditionings are covered without a third case.
    @Test(arguments: [(MatmulTuning(variant: .cpu), 1), (MatmulTuning(variant: .tiled), 2)])
    func unetJVPMatchesCentralDifferences(tuning: MatmulTuning, times: Int) throws {
        try SharedEngine.withEngine(tuning: tuning) { engine in
            var config = UNetTests.attentionConfig
            config.times = times
            try Self.checkJVP(UNet(engine: engine, config: config, seed: 1), engine: engine, batch: 2, times: times, seed: 4) { p, x, t in
                Reference.unetForward(config, parameters: p, input: x, t: t, batch: 2)
            }
        }
    }

    @Test func badTangentsAreRefusedInOneLine() throws {
        try SharedEngine.withEngine { engine in
            let network = try ResidualMLP(engine: engine, config: ResidualMLPConfig(inputs: 3, width: 4, blocks: 1, outputs: 2), seed: 1)
            let x = try engine.tensor(filled: 0.5, rows: 2, columns: 3), t = try engine.tensor(filled: 0.5, rows: 2, columns: 1)
            let tape = network.makeTape()
            #expect(throws: OpenCLError.invalidRequest("jvp: a tangent of 2x2 for an input of 2x3")) {
                _ = try network.jvp(x, tangent: engine.tensor(filled: 1, rows: 2, columns: 2), time: t, tape: tape)
            }
            #expect(throws: OpenCLError.invalidRequest("jvp: a time tangent of 3x1 for times of 2x1")) {
                _ = try network.jvp(x, tangent: x, time: t, timeTangent: engine.tensor(filled: 1, rows: 3, columns: 1), tape: tape)
            }
            #expect(throws: OpenCLError.invalidRequest("jvp: a time tangent of 2x1 for times of none")) {
                _ = try network.jvp(x, tangent: x, timeTangent: t, tape: tape)
            }
        }
    }
}
