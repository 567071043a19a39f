import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabTestSupport
import Testing
@testable import StepLabGenerative

/// MeanFlow's batch and loss kernels against their float64 twins, and a model that learns in one step.
@Suite struct MeanFlowTests {
    @Test(arguments: [(1, 1, 1), (5, 3, 2), (9, 2, 4)])
    func batchMatchesItsTwin(rows: Int, d: Int, frequencies: Int) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(rows * 10 + d))
            var config = MeanFlowConfig()
            config.ratio = 0.5
            let xv = random.array(rows * d, -2, 2), scale: Float = 3
            let timeKey = RandomKey(seed: 7, stream: 41, counter: 3), noiseKey = RandomKey(seed: 7, stream: 42, counter: 3)
            let width = d + 2 * frequencies
            let input = try engine.tensor(rows: rows, columns: width), tangent = try engine.tensor(rows: rows, columns: width)
            let times = try engine.tensor(rows: rows, columns: 2), velocity = try engine.tensor(rows: rows, columns: d)
            try engine.meanFlowBatch(config, x: engine.tensor(xv, rows: rows, columns: d), timeKey: timeKey, noiseKey: noiseKey,
                                     scale: scale, input: input, inputTangent: tangent, times: times, velocity: velocity)
            let words = Reference.randomBits(count: 4 * rows, key: timeKey)
            let eps = Reference.normal(count: rows * d, key: noiseKey)
            let (gotInput, gotTangent, gotTimes) = (try input.download(), try tangent.download(), try times.download())
            var differing = 0
            for r in 0 ..< rows {
                let (t, s) = Reference.meanFlowTimes((words[4 * r], words[4 * r + 1], words[4 * r + 2]), config: config)
                if s < t { differing += 1 }
                #expect(t >= s && t > 0 && t < 1)
                expectClose(Array(gotTimes[2 * r ..< 2 * r + 2]), [Float(t), Float(t - s)], rtol: 1e-5, atol: 1e-6, "times of row \(r)")
                let tf = gotTimes[2 * r]
                let v = (0 ..< d).map { eps[r * d + $0] - xv[r * d + $0] }
                let z = (0 ..< d).map { (1 - tf) * xv[r * d + $0] + tf * eps[r * d + $0] }
                let emb = Reference.timeEmbedding([tf], frequencies: frequencies, scale: scale)
                let rates = (0 ..< frequencies).map { Float(Double(scale) * exp(-log(10000.0) * Double($0) / Double(frequencies))) }
                let demb = (0 ..< frequencies).map { rates[$0] * emb[frequencies + $0] } + (0 ..< frequencies).map { -rates[$0] * emb[$0] }
                expectClose(Array(gotInput[r * width ..< (r + 1) * width]), z + emb, rtol: 1e-5, atol: 1e-5, "input of row \(r)")
                expectClose(Array(gotTangent[r * width ..< (r + 1) * width]), v + demb, rtol: 1e-4, atol: 1e-5, "tangent of row \(r)")
                expectClose(Array(try velocity.download()[r * d ..< (r + 1) * d]), v, rtol: 1e-6, atol: 1e-6, "velocity of row \(r)")
            }
            if rows >= 9 { #expect(differing > 0 && differing < rows, "both r != t and r = t rows at ratio 0.5") }
        }
    }

    @Test(arguments: [(1, 1), (4, 3), (7, 5)])
    func lossMatchesItsTwinAndItsGradient(rows: Int, d: Int) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(rows * 7 + d))
            let config = MeanFlowConfig()
            let u = random.array(rows * d), dudt = random.array(rows * d), v = random.array(rows * d)
            let t = random.array(rows, 0.2, 1), h = t.map { $0 * 0.7 }
            let times = zip(t, h).flatMap { [$0, $1] }
            let perSample = try engine.tensor(rows: rows, columns: 1), gradient = try engine.tensor(rows: rows, columns: d)
            try engine.meanFlowLoss(config, output: engine.tensor(u, rows: rows, columns: d), derivative: engine.tensor(dudt, rows: rows, columns: d),
                                    velocity: engine.tensor(v, rows: rows, columns: d), times: engine.tensor(times, rows: rows, columns: 2),
                                    perSample: perSample, gradient: gradient)
            let (ud, dd, vd, hd) = (u.map(Double.init), dudt.map(Double.init), v.map(Double.init), h.map(Double.init))
            let twin = Reference.meanFlowLoss(config, output: ud, derivative: dd, velocity: vd, intervals: hd, columns: d)
            expectClose(try perSample.download(), twin.perSample.map(Float.init), rtol: 1e-5, atol: 1e-7, "per-sample")
            expectClose(try gradient.download(), twin.gradient.map(Float.init), rtol: 1e-4, atol: 1e-7, "gradient")
            // The gradient is that of the batch mean of w m with each row's adaptive weight w held (a stop-gradient).
            let weights = twin.perSample.map { 1 / pow($0 + Double(config.offset), Double(config.power)) }
            let numeric = centralDifferences(at: ud) { point in
                Reference.meanFlowLoss(config, output: point, derivative: dd, velocity: vd, intervals: hd, columns: d).perSample
                    .enumerated().reduce(0) { $0 + weights[$1.offset] * $1.element } / Double(rows)
            }
            expectClose(twin.gradient.map(Float.init), numeric, rtol: 1e-4, atol: 1e-7, "twin gradient")
        }
    }

    /// The objective's parameter gradients against the float64 resmlp: u from the twin, du/dt by central differences of
    /// the twin along the batch's tangent (v, d emb/dt; dt = d(t - r) = 1), the target v - (t - r) du/dt held fixed,
    /// and the adaptively weighted loss differentiated by central differences in every parameter.
    @Test func gradientsAreThoseOfTheMeanFlowLossOfTheTwin() throws {
        try SharedEngine.withEngine { engine in
            let config = DenoiserConfig(dimension: 2, architecture: .resmlp, frequencies: 2, width: 6, blocks: 1, timeScale: 3, timeInputs: 2)
            let model = try Denoiser(engine: engine, config: config, seed: 3)
            var random = TestRandom(seed: 4)
            try model.parameters.values.upload(random.array(model.parameters.count, -0.5, 0.5))
            let batch = 4, x0 = random.array(batch * 2, -2, 2)
            var settings = MeanFlowConfig()
            settings.ratio = 1
            let objective = try MeanFlowObjective(model: model, config: settings, batch: batch, seed: 5)
            let perSample = try objective.computeGradients(x0: engine.tensor(x0, rows: batch, columns: 2), step: 0).download()
            let gradients = try model.parameters.gradients.download()
            let input = try objective.input.download().map(Double.init), tangent = try objective.inputTangent.download()
            let times = try objective.times.download(), v = try objective.velocity.download().map(Double.init)
            let flat = try model.parameters.values.download().map(Double.init)
            func named(_ p: [Double]) -> [String: [Double]] {
                Dictionary(uniqueKeysWithValues: model.parameters.entries.map { ($0.name, Array(p[$0.offset ..< $0.offset + $0.count])) })
            }
            func u(_ p: [Double], _ x: [Double], _ t: [Float]) -> [Double] {
                Reference.residualMLPForward(config.resmlp, parameters: named(p), input: x, t: t, batch: batch)
            }
            let dudt = directionalDerivative(step: 1e-3) { e in
                u(flat, zip(input, tangent).map { $0 + e * Double($1) }, times.map { Float(Double($0) + e) })
            }.map(Double.init)
            let h = (0 ..< batch).map { Double(times[2 * $0 + 1]) }
            let twin = Reference.meanFlowLoss(settings, output: u(flat, input, times), derivative: dudt, velocity: v, intervals: h, columns: 2)
            expectClose(perSample, twin.perSample.map(Float.init), rtol: 1e-3, atol: 1e-5, "per-sample")
            let weights = twin.perSample.map { 1 / pow($0 + Double(settings.offset), Double(settings.power)) }
            let numeric = centralDifferences(at: flat) { p in
                Reference.meanFlowLoss(settings, output: u(p, input, times), derivative: dudt, velocity: v, intervals: h, columns: 2)
                    .perSample.enumerated().reduce(0) { $0 + weights[$1.offset] * $1.element } / Double(batch)
            }
            expectClose(gradients, numeric, rtol: 2e-3, atol: 1e-5, "parameter gradients")
        }
    }

    /// One-step samples from noise land on the eight Gaussians after training.
    @Test func meanFlowLearnsEightGaussiansInOneStep() throws {
        try SharedEngine.withEngine { engine in
            let (before, oneStep, twoSteps) = try TestData.trainFlowJumps(engine) { try MeanFlowObjective(model: $0, batch: 512, seed: 6) }
            print("MeanFlow SWD to eight Gaussians: untrained \(before), 1 step \(oneStep), 2 steps \(twoSteps)")
            // Measured: 0.62 untrained, 0.24 at one and two steps (true samples: about 0.09). Plain flow matching conditioned
            // the same way scores about as well on this set at this budget, so the objective's own target is checked by
            // `gradientsAreThoseOfTheMeanFlowLossOfTheTwin`.
            #expect(before > 2 * oneStep)
            #expect(oneStep < 0.35)
            #expect(twoSteps < 0.35)
        }
    }

    @Test func aNetworkOnOneTimeIsRefused() throws {
        try SharedEngine.withEngine { engine in
            let model = try Denoiser(engine: engine, config: DenoiserConfig(dimension: 2, architecture: .resmlp, width: 8, blocks: 1), seed: 1)
            #expect(throws: OpenCLError.invalidRequest("meanflow needs a network conditioned on two times, (t, t - r) (got 1)")) {
                _ = try MeanFlowObjective(model: model, batch: 4, seed: 1)
            }
        }
    }
}
