import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabTestSupport
import Testing
@testable import StepLabGenerative

/// sCM's batch, teacher-flow and loss kernels against their float64 twins, its parameter gradients against the twin
/// network, and a model that learns to sample in one step.
@Suite struct SCMTests {
    /// The loss sCM states: mean_r e^w_r ||out_r - n_r + g_r||^2 / d - w_r, with n (the stop-gradient copy) and g held.
    static func statedLoss(_ out: [Double], held n: [Double], tangent g: [Double], weights w: [Double], columns d: Int) -> Double {
        var total = 0.0
        for r in 0 ..< w.count {
            var squares = 0.0
            for k in 0 ..< d {
                let delta = out[r * d + k] - n[r * d + k] + g[r * d + k]
                squares += delta * delta
            }
            total += exp(w[r]) * squares / Double(d) - w[r]
        }
        return total / Double(w.count)
    }

    @Test(arguments: [(1, 1, 1), (5, 3, 2), (9, 2, 4)])
    func batchMatchesItsTwin(rows: Int, d: Int, frequencies: Int) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(rows * 10 + d))
            let config = SCMConfig(totalIterations: 100)
            let xv = random.array(rows * d, -2, 2), scale: Float = 3, sd = Double(config.edm.sigmaData)
            let timeKey = RandomKey(seed: 7, stream: 71, counter: 3), noiseKey = RandomKey(seed: 7, stream: 72, counter: 3)
            let width = d + 2 * frequencies, k = SCMConfig.weightingFeatures
            func column() throws -> Tensor { try engine.tensor(rows: rows, columns: 1) }
            func matrix(_ columns: Int) throws -> Tensor { try engine.tensor(rows: rows, columns: columns) }
            let (sigma, times, noisy, velocity) = (try column(), try column(), try matrix(d), try matrix(d))
            let (input, tangent, features) = (try matrix(width), try matrix(width), try matrix(k))
            try engine.scmBatch(config, x: engine.tensor(xv, rows: rows, columns: d), timeKey: timeKey, noiseKey: noiseKey, scale: scale,
                                sigma: sigma, times: times, noisy: noisy, velocity: velocity, input: input, inputTangent: tangent,
                                features: features)
            let words = Reference.randomBits(count: 4 * rows, key: timeKey)
            let eps = Reference.normal(count: rows * d, key: noiseKey).map(Double.init)
            let (gotSigma, gotTimes, gotInput, gotTangent) = (try sigma.download(), try times.download(), try input.download(), try tangent.download())
            let (gotNoisy, gotVelocity, gotFeatures) = (try noisy.download(), try velocity.download(), try features.download())
            for r in 0 ..< rows {
                let s = Reference.scmSigma((words[4 * r], words[4 * r + 1]), config: config)
                expectClose([gotSigma[r], gotTimes[r]], [Float(s), Float(log(s) / 4)], rtol: 1e-5, atol: 1e-6, "sigma and c of row \(r)")
                let t = atan(s / sd), (c, sn) = (cos(t), sin(t))
                let x = (0 ..< d).map { Double(xv[r * d + $0]) }, e = (0 ..< d).map { eps[r * d + $0] }
                let v = (0 ..< d).map { c * sd * e[$0] - sn * x[$0] }
                expectClose(Array(gotNoisy[r * d ..< (r + 1) * d]), (0 ..< d).map { Float(x[$0] + s * e[$0]) }, rtol: 1e-5, atol: 1e-5, "x_sigma")
                expectClose(Array(gotVelocity[r * d ..< (r + 1) * d]), v.map(Float.init), rtol: 1e-5, atol: 1e-5, "flow of row \(r)")
                let emb = Reference.timeEmbedding([gotTimes[r]], frequencies: frequencies, scale: scale)
                let rates = (0 ..< frequencies).map { Float(Double(scale) * exp(-log(10000.0) * Double($0) / Double(frequencies))) }
                let demb = (0 ..< frequencies).map { 0.25 * rates[$0] * emb[frequencies + $0] }
                    + (0 ..< frequencies).map { -0.25 * rates[$0] * emb[$0] }
                let xt = (0 ..< d).map { Float((c * x[$0] + sn * sd * e[$0]) / sd) }
                expectClose(Array(gotInput[r * width ..< (r + 1) * width]), xt + emb, rtol: 1e-5, atol: 1e-5, "input of row \(r)")
                expectClose(Array(gotTangent[r * width ..< (r + 1) * width]), v.map { Float(sn * c * $0 / sd) } + demb,
                            rtol: 1e-4, atol: 1e-5, "tangent of row \(r)")
                let phases = (1 ... k / 2).map { 2 * Double($0) * t }
                expectClose(Array(gotFeatures[r * k ..< (r + 1) * k]), (phases.map(cos) + phases.map(sin)).map(Float.init),
                            rtol: 1e-4, atol: 1e-5, "features of row \(r)")
            }
            // sCD replaces the flow by the teacher's -sd N and the tangent's first d columns with it.
            let teacherNet = random.array(rows * d)
            try engine.scmTeacherFlow(sigmaData: config.edm.sigmaData, teacherOutput: engine.tensor(teacherNet, rows: rows, columns: d),
                                      sigma: sigma, velocity: velocity, inputTangent: tangent)
            let (flow, teacherTangent) = (try velocity.download(), try tangent.download())
            for r in 0 ..< rows {
                let t = atan(Double(gotSigma[r]) / sd)
                let v = (0 ..< d).map { -sd * Double(teacherNet[r * d + $0]) }
                expectClose(Array(flow[r * d ..< (r + 1) * d]), v.map(Float.init), rtol: 1e-6, atol: 1e-7, "teacher flow")
                expectClose(Array(teacherTangent[r * width ..< (r + 1) * width]),
                            v.map { Float(sin(t) * cos(t) * $0 / sd) } + Array(gotTangent[r * width + d ..< (r + 1) * width]),
                            rtol: 1e-5, atol: 1e-6, "teacher tangent of row \(r)")
            }
        }
    }

    /// The kernel against its twin, and the twin's gradients against central differences of the loss it states:
    /// mean_r e^w_r ||N' - N + g_r||^2 / d - w_r at N' = N, with N and the normalised g held.
    @Test(arguments: [(1, 1, Float(0)), (4, 3, 1), (7, 5, 0.5)])
    func lossMatchesItsTwinAndItsGradients(rows: Int, d: Int, warm: Float) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(rows * 7 + d))
            let config = SCMConfig(totalIterations: 100)
            let n = random.array(rows * d), j = random.array(rows * d), noisy = random.array(rows * d, -3, 3), v = random.array(rows * d)
            let sigma = random.array(rows, 0.01, 20), w = random.array(rows, -1, 1)
            func column(_ values: [Float]? = nil) throws -> Tensor {
                try values.map { try engine.tensor($0, rows: rows, columns: 1) } ?? engine.tensor(rows: rows, columns: 1)
            }
            func matrix(_ values: [Float]? = nil) throws -> Tensor {
                try values.map { try engine.tensor($0, rows: rows, columns: d) } ?? engine.tensor(rows: rows, columns: d)
            }
            let (perSample, dw, gradient) = (try column(), try column(), try matrix())
            try engine.scmLoss(config, warm: warm, output: matrix(n), derivative: matrix(j), noisy: matrix(noisy), velocity: matrix(v),
                               sigma: column(sigma), weight: column(w), perSample: perSample, gradient: gradient, weightGradient: dw)
            let (nd, jd, xd, vd, sdv, wd) = (n.map(Double.init), j.map(Double.init), noisy.map(Double.init), v.map(Double.init),
                                            sigma.map(Double.init), w.map(Double.init))
            let twin = Reference.scmLoss(config, warm: Double(warm), output: nd, derivative: jd, noisy: xd, velocity: vd, sigma: sdv,
                                         weight: wd, columns: d)
            expectClose(try perSample.download(), twin.perSample.map(Float.init), rtol: 1e-4, atol: 1e-6, "per-sample")
            expectClose(try gradient.download(), twin.gradient.map(Float.init), rtol: 1e-4, atol: 1e-7, "dL/dN")
            expectClose(try dw.download(), twin.weightGradient.map(Float.init), rtol: 1e-4, atol: 1e-7, "dL/dw")
            // g_r is the twin's gradient row scaled back: g = dL/dN d B / (2 e^w).
            let g = (0 ..< rows * d).map { twin.gradient[$0] * Double(d * rows) / (2 * exp(wd[$0 / d])) }
            func loss(_ point: [Double], _ weights: [Double]) -> Double {
                Self.statedLoss(point, held: nd, tangent: g, weights: weights, columns: d)
            }
            expectClose(twin.gradient.map(Float.init), centralDifferences(at: nd) { loss($0, wd) }, rtol: 1e-4, atol: 1e-7, "twin dL/dN")
            expectClose(twin.weightGradient.map(Float.init), centralDifferences(at: wd) { loss(nd, $0) }, rtol: 1e-4, atol: 1e-7, "twin dL/dw")
        }
    }

    /// The objective's gradients against the float64 resmlp: N from the twin, J = sin t cos t dN/dt by central differences
    /// of the twin along the batch's tangent, the normalised g from the loss twin, the network's parameters by central
    /// differences of the stated loss, and the weighting's by its closed form dL/da = features^T dL/dw.
    @Test func gradientsAreThoseOfTheSCMLossOfTheTwin() throws {
        try SharedEngine.withEngine { engine in
            let config = DenoiserConfig(dimension: 2, architecture: .resmlp, frequencies: 2, width: 6, blocks: 1, timeScale: 1,
                                        weighting: SCMConfig.weightingFeatures)
            let model = try Denoiser(engine: engine, config: config, seed: 3)
            var random = TestRandom(seed: 4)
            try model.parameters.values.upload(random.array(model.parameters.count, -0.5, 0.5))
            let batch = 4, x0 = random.array(batch * 2, -2, 2), settings = SCMConfig(totalIterations: 10), step = 3
            let objective = try SCMObjective(model: model, config: settings, batch: batch, seed: 5)
            let perSample = try objective.computeGradients(x0: engine.tensor(x0, rows: batch, columns: 2), step: step).download()
            let gradients = try model.parameters.gradients.download()
            let input = try objective.input.download().map(Double.init), tangent = try objective.inputTangent.download()
            let times = try objective.times.download(), features = try objective.features.download().map(Double.init)
            let (noisy, v) = (try objective.noisy.download().map(Double.init), try objective.velocity.download().map(Double.init))
            let sigma = try objective.sigma.download().map(Double.init)
            let flat = try model.parameters.values.download().map(Double.init)
            let entries = model.parameters.entries
            func named(_ p: [Double]) -> [String: [Double]] {
                Dictionary(uniqueKeysWithValues: entries.map { ($0.name, Array(p[$0.offset ..< $0.offset + $0.count])) })
            }
            func net(_ p: [Double], _ x: [Double], _ t: [Float]) -> [Double] {
                Reference.residualMLPForward(config.resmlp, parameters: named(p), input: x, t: t, batch: batch)
            }
            let j = directionalDerivative(step: 1e-3) { e in
                net(flat, zip(input, tangent).map { $0 + e * Double($1) }, times.map { Float(Double($0) + 0.25 * e) })
            }.map(Double.init)
            let (a, b) = (named(flat)["weighting.weight"]!, named(flat)["weighting.bias"]![0])
            let w = (0 ..< batch).map { r in (0 ..< a.count).reduce(b) { $0 + a[$1] * features[r * a.count + $1] } }
            let n = net(flat, input, times)
            let twin = Reference.scmLoss(settings, warm: Double(settings.warm(at: step)), output: n, derivative: j, noisy: noisy,
                                         velocity: v, sigma: sigma, weight: w, columns: 2)
            expectClose(perSample, twin.perSample.map(Float.init), rtol: 1e-3, atol: 1e-5, "per-sample")
            let g = (0 ..< batch * 2).map { twin.gradient[$0] * Double(2 * batch) / (2 * exp(w[$0 / 2])) }
            let numeric = centralDifferences(at: flat) { p in Self.statedLoss(net(p, input, times), held: n, tangent: g, weights: w, columns: 2) }
            let weighting = Set(["weighting.weight", "weighting.bias"])
            for entry in entries {
                let range = entry.offset ..< entry.offset + entry.count
                if weighting.contains(entry.name) {
                    let expected = entry.name == "weighting.bias" ? [twin.weightGradient.reduce(0, +)]
                        : (0 ..< entry.count).map { f in (0 ..< batch).reduce(0) { $0 + features[$1 * entry.count + f] * twin.weightGradient[$1] } }
                    expectClose(Array(gradients[range]), expected.map(Float.init), rtol: 1e-3, atol: 1e-6, entry.name)
                } else {
                    expectClose(Array(gradients[range]), Array(numeric[range]), rtol: 2e-3, atol: 1e-5, entry.name)
                }
            }
        }
    }

    /// sCT from scratch: one- and two-step samples land on the eight Gaussians.
    @Test func sctLearnsEightGaussiansInOneStep() throws {
        try SharedEngine.withEngine { engine in
            let source = try DeviceDataset(engine: engine, values: TestData.eightGaussians(count: 8192, seed: 2), count: 8192, dimension: 2, seed: 4)
            let model = try Denoiser(engine: engine, config: DenoiserConfig(dimension: 2, architecture: .resmlp, width: 64, blocks: 2, timeScale: 1,
                                                                            weighting: SCMConfig.weightingFeatures), seed: 5)
            let config = SCMConfig(totalIterations: 1500)
            let trainer = try Trainer(objective: SCMObjective(model: model, config: config, batch: 256, seed: 6), source: source,
                                      config: OptimizationConfig(learningRate: 1e-3, emaDecay: 0.99))
            let sampler = EDMSampler(model: EDMModel(network: model, config: config.edm, boundary: false))
            func distance(steps: Int, parameters: Tensor?) throws -> Double {
                try TestData.distanceToEightGaussians(engine) { noise in
                    try sampler.sampleConsistency(noise: noise, sigmas: config.samplingSigmas(steps: steps), key: RandomKey(seed: 3, stream: 102),
                                                  parameters: parameters)
                }
            }
            let before = try distance(steps: 1, parameters: nil)
            for _ in 0 ..< 1500 { try trainer.trainStep() }
            let (oneStep, twoSteps) = (try distance(steps: 1, parameters: trainer.ema?.values), try distance(steps: 2, parameters: trainer.ema?.values))
            print("sCT SWD to eight Gaussians: untrained \(before), 1 step \(oneStep), 2 steps \(twoSteps)")
            #expect(before > 4 * oneStep)
            #expect(oneStep < 0.25)
            #expect(twoSteps < 0.25)
        }
    }

    @Test func samplingLevelsFollowThePaper() {
        let config = SCMConfig(totalIterations: 1)
        #expect(config.samplingSigmas(steps: 1) == [80])
        expectClose(config.samplingSigmas(steps: 2), [80, Float(tan(1.1))], "t_mid = 1.1")
        expectClose(config.samplingSigmas(steps: 3), [80, Float(tan(1.1)), Float(tan(0.55))], "even in t below it")
    }

    @Test func aNetworkWithoutTheWeightingIsRefused() throws {
        try SharedEngine.withEngine { engine in
            let model = try Denoiser(engine: engine, config: DenoiserConfig(dimension: 2, architecture: .resmlp, width: 8, blocks: 1), seed: 1)
            #expect(throws: OpenCLError.invalidRequest("scm needs a network on one time that carries the 8-feature loss weighting "
                                                       + "(DenoiserConfig.weighting)")) {
                _ = try SCMObjective(model: model, config: SCMConfig(totalIterations: 1), batch: 4, seed: 1)
            }
        }
    }
}
