import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// A pass with `Tape.timesShared` (a sampler's step) conditions once and lets every sample read that row: the output
/// must be exactly the per-sample conditioning's, for every time-conditioned network, and a backward through the
/// shared row must still be the gradient (the row's gradient is the sum over the samples).
@Suite struct SharedTimesTests {
    /// The three time-conditioned networks at small shapes, with two times per sample on the resmlp.
    static func networks(_ engine: Engine) throws -> [(String, any Network)] {
        [
            ("resmlp", try ResidualMLP(engine: engine, config: ResidualMLPConfig(inputs: 5, width: 6, blocks: 2, outputs: 3, frequencies: 2,
                                                                                 timeScale: 3, times: 2), seed: 3)),
            ("unet", try UNet(engine: engine, config: UNetTests.attentionConfig, seed: 3)),
            ("dit", try DiT(engine: engine, config: DiTTests.config, seed: 3)),
        ]
    }

    @Test func sharedTimesGiveThePerSampleOutputAndGradient() throws {
        try SharedEngine.withEngine { engine in
            for (name, network) in try Self.networks(engine) {
                let batch = 5, times = name == "resmlp" ? 2 : 1
                var random = TestRandom(seed: 11)
                // Random parameters: the zero-initialised layers would otherwise hide the conditioning.
                try network.parameters.values.upload(random.array(network.parameters.count, -0.5, 0.5))
                let x = try engine.tensor(random.array(batch * network.inputs, -2, 2), rows: batch, columns: network.inputs)
                let row = random.array(times, 0, 1)
                let t = try engine.tensor((0 ..< batch).flatMap { _ in row }, rows: batch, columns: times)
                let probe = try engine.tensor(random.array(batch * network.outputs), rows: batch, columns: network.outputs)

                func pass(shared: Bool) throws -> (output: [Float], gradients: [Float]) {
                    let tape = network.makeTape()
                    tape.timesShared = shared
                    let output = try network.run(x, time: t, tape: tape).download()
                    try network.parameters.zeroGradients(engine: engine)
                    try network.backward(probe, tape: tape)
                    return (output, try network.parameters.gradients.download())
                }
                let (perSample, shared) = (try pass(shared: false), try pass(shared: true))
                #expect(shared.output == perSample.output, "\(name): the output is bit for bit the per-sample conditioning's")
                // Only the summation order of the conditioning's gradient differs.
                expectClose(shared.gradients, perSample.gradients, rtol: 1e-4, atol: 1e-6, "\(name) parameter gradients")
                #expect(perSample.gradients.contains { $0 != 0 })
            }
        }
    }

    @Test func aTangentPassRefusesSharedTimes() throws {
        try SharedEngine.withEngine { engine in
            let (_, network) = try Self.networks(engine)[0]
            let tape = network.makeTape()
            tape.timesShared = true
            let x = try engine.tensor(filled: 0.5, rows: 2, columns: network.inputs), t = try engine.tensor(filled: 0.3, rows: 2, columns: 2)
            #expect(throws: OpenCLError.self) { try network.jvp(x, tangent: x, time: t, tape: tape) }
        }
    }
}
