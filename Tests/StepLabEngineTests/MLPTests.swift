import Foundation
import StepLabTestSupport
import Testing
import OpenCLKit
@testable import StepLabEngine

@Suite struct MLPTests {
    /// Loss of the float64 reference network for the given flat parameters.
    static func referenceLoss(_ config: MLPConfig, _ mlp: MLP, flat: [Double], input: [Double], target: [Double],
                              weights: [Double], batch: Int) -> Double {
        var named: [String: [Double]] = [:]
        for e in mlp.parameters.entries { named[e.name] = Array(flat[e.offset ..< e.offset + e.count]) }
        let out = Reference.mlpForward(config, parameters: named, input: input, batch: batch)
        var total = 0.0
        for i in 0 ..< batch {
            var squares = 0.0
            for j in 0 ..< config.outputs { let e = out[i * config.outputs + j] - target[i * config.outputs + j]; squares += e * e }
            total += weights[i] * squares / Double(config.outputs)
        }
        return total / Double(batch)
    }

    @Test(arguments: Activation.allCases)
    func gradientsMatchFiniteDifferences(activation: Activation) throws {
        try SharedEngine.withEngine { engine in
            let config = MLPConfig(inputs: 3, width: 7, depth: 2, outputs: 2, activation: activation)
            let batch = 5
            let mlp = try MLP(engine: engine, config: config, seed: 11)
            var random = TestRandom(seed: 3 + UInt64(activation.rawValue))
            let x = random.array(batch * config.inputs, -2, 2), y = random.array(batch * config.outputs)
            let w = random.array(batch, 0.5, 2)
            let input = try engine.tensor(x, rows: batch, columns: config.inputs)
            let target = try engine.tensor(y, rows: batch, columns: config.outputs)
            let weights = try engine.tensor(w, rows: batch, columns: 1)
            let tape = mlp.makeTape()
            let perSample = try engine.tensor(rows: batch, columns: 1)
            let outGrad = try engine.tensor(rows: batch, columns: config.outputs)
            let out = try mlp.run(input, tape: tape)
            try engine.loss(.squaredError, prediction: out, target: target, weights: weights, perSample: perSample, gradient: outGrad)
            try mlp.parameters.zeroGradients(engine: engine)
            let inGrad = try #require(try mlp.backward(outGrad, tape: tape, inputGradientOf: input))
            let analytic = try mlp.parameters.gradients.download()
            let analyticInput = try inGrad.download()

            // Central differences of the float64 reference (error ~h^2, far below float32 noise).
            let flat = try mlp.parameters.values.download().map(Double.init)
            let xd = x.map(Double.init), yd = y.map(Double.init), wd = w.map(Double.init)
            let numeric = centralDifferences(at: flat) {
                Self.referenceLoss(config, mlp, flat: $0, input: xd, target: yd, weights: wd, batch: batch)
            }
            expectClose(analytic, numeric, rtol: 2e-3, atol: 2e-5, "\(activation) parameter gradients")
            let numericInput = centralDifferences(at: xd) {
                Self.referenceLoss(config, mlp, flat: flat, input: $0, target: yd, weights: wd, batch: batch)
            }
            expectClose(analyticInput, numericInput, rtol: 2e-3, atol: 2e-5, "\(activation) input gradients")
            // The device forward agrees with the reference too.
            var named: [String: [Double]] = [:]
            for e in mlp.parameters.entries { named[e.name] = Array(flat[e.offset ..< e.offset + e.count]) }
            expectClose(try out.download(), Reference.mlpForward(config, parameters: named, input: xd, batch: batch).map(Float.init),
                        rtol: 1e-5, atol: 1e-6, "\(activation) forward")
        }
    }

    @Test func fitsASineWithAdamW() throws {
        try SharedEngine.withEngine { engine in
            let config = MLPConfig(inputs: 1, width: 32, depth: 2, outputs: 1, activation: .tanh)
            let mlp = try MLP(engine: engine, config: config, seed: 1)
            let batch = 128
            let xs = (0 ..< batch).map { -3 + 6 * Float($0) / Float(batch - 1) }
            let input = try engine.tensor(xs, rows: batch, columns: 1)
            let target = try engine.tensor(xs.map { Float(sin(Double($0))) }, rows: batch, columns: 1)
            let tape = mlp.makeTape()
            let perSample = try engine.tensor(rows: batch, columns: 1), grad = try engine.tensor(rows: batch, columns: 1)
            let mean = try engine.tensor(rows: 1, columns: 1)
            let adam = try AdamW(parameters: mlp.parameters, engine: engine)
            func loss() throws -> Float {
                try engine.columnSums(perSample, alpha: 1 / Float(batch), into: mean)
                return try mean.download()[0]
            }
            var initial: Float = 0
            for step in 0 ..< 600 {
                let out = try mlp.run(input, tape: tape)
                try engine.loss(.squaredError, prediction: out, target: target, perSample: perSample, gradient: grad)
                if step == 0 { initial = try loss() }
                try mlp.parameters.zeroGradients(engine: engine)
                _ = try mlp.backward(grad, tape: tape)
                try adam.update(lr: 3e-3)
            }
            let final = try loss()
            // sin on [-3, 3] has variance ~0.5; an untrained net sits near that, a fitted one orders of magnitude lower.
            #expect(initial > 0.1)
            #expect(final < 2e-3, "loss \(initial) -> \(final)")
        }
    }

    @Test func exportAndLoadRoundTripByName() throws {
        try SharedEngine.withEngine { engine in
            let config = MLPConfig(inputs: 2, width: 4, depth: 1, outputs: 3)
            let a = try MLP(engine: engine, config: config, seed: 1), b = try MLP(engine: engine, config: config, seed: 2)
            #expect(try a.parameters.values.download() != b.parameters.values.download())
            let named = Dictionary(uniqueKeysWithValues: try a.parameters.export().map { ($0.name, $0.values) })
            #expect(named.keys.sorted() == ["layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight"])
            try b.parameters.load(named)
            #expect(try a.parameters.values.download() == b.parameters.values.download())
            var wrong = named
            wrong["layers.1.bias"] = [1, 2]
            #expect(throws: (any Error).self) { try b.parameters.load(wrong) }
            var extra = named
            extra["layers.2.weight"] = [0]
            #expect(throws: OpenCLError.invalidRequest("unexpected parameter layers.2.weight: this network has no such tensor")) {
                try b.parameters.load(extra)
            }
        }
    }
}
