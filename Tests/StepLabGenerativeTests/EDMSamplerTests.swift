import Foundation
import OpenCLKit
import StepLabEngine
import StepLabTestSupport
import Testing
@testable import StepLabGenerative

/// EDM's Euler and Heun sampling with slopes taken from the network output (no x - D cancellation at small sigma),
/// against float64 twins.
@Suite struct EDMSamplerTests {
    @Test(arguments: [(1, 1), (3, 5), (17, 2)])
    func flowStepsMatchTheirTwin(rows: Int, d: Int) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(rows * 10 + d))
            let xv = random.array(rows * d, -3, 3), netv = random.array(rows * d), net2v = random.array(rows * d)
            let fromv = random.array(rows, 0.5, 80), tov = random.array(rows, 0.002, 0.4)
            let (x, net, net2) = (try engine.tensor(xv, rows: rows, columns: d), try engine.tensor(netv, rows: rows, columns: d),
                                  try engine.tensor(net2v, rows: rows, columns: d))
            let from = try engine.tensor(fromv, rows: rows, columns: 1), to = try engine.tensor(tov, rows: rows, columns: 1)
            let slope = try engine.tensor(rows: rows, columns: d), next = try engine.tensor(rows: rows, columns: d)
            try engine.edmFlowEulerStep(x, network: net, sigmaData: 0.7, from: from, to: to, slope: slope, into: next)
            let g = (0 ..< rows * d).map { Reference.edmFlowSlope(Double(xv[$0]), network: Double(netv[$0]), sigma: Double(fromv[$0 / d]), sigmaData: 0.7) }
            let euler = (0 ..< rows * d).map { Double(xv[$0]) + (Double(tov[$0 / d]) - Double(fromv[$0 / d])) * g[$0] }
            expectClose(try slope.download(), g.map(Float.init), rtol: 1e-5, atol: 1e-6, "slope")
            expectClose(try next.download(), euler.map(Float.init), rtol: 1e-5, atol: 1e-5, "euler")
            let xe = try next.download()
            try engine.edmFlowHeunStep(x, slope: slope, xEuler: next, network: net2, sigmaData: 0.7, from: from, to: to, into: x)
            let heun = (0 ..< rows * d).map { i -> Float in
                let g2 = Reference.edmFlowSlope(Double(xe[i]), network: Double(net2v[i]), sigma: Double(tov[i / d]), sigmaData: 0.7)
                return Float(Double(xv[i]) + (Double(tov[i / d]) - Double(fromv[i / d])) * 0.5 * (g[i] + g2))
            }
            expectClose(try x.download(), heun, rtol: 1e-5, atol: 1e-5, "heun in place")
        }
    }

    /// Heun at 2 and 3 steps from sigma_max = 80 with a small resmlp at random weights, against the same sampler in
    /// float64 (the network's twin, D's slope in exact arithmetic). With the slope formed as (x - D) / sigma in float32
    /// the 2-step result was off by 2.95e-3.
    @Test(arguments: [2, 3])
    func heunMatchesItsFloat64Twin(steps: Int) throws {
        try SharedEngine.withEngine { engine in
            let config = DenoiserConfig(dimension: 2, architecture: .resmlp, frequencies: 2, width: 8, blocks: 1, timeScale: 3)
            let model = try Denoiser(engine: engine, config: config, seed: 3)
            var random = TestRandom(seed: 4)
            try model.parameters.values.upload(random.array(model.parameters.count, -0.5, 0.5))
            let rows = 16, noise = random.array(rows * 2)
            let edm = EDMModel(network: model, config: EDMConfig(), boundary: false)
            let samples = try EDMSampler(model: edm).sample(noise: engine.tensor(noise, rows: rows, columns: 2), steps: steps, solver: .heun)
                .samples.download()
            let flat = try model.parameters.values.download().map(Double.init)
            let named = Dictionary(uniqueKeysWithValues: model.parameters.entries.map { ($0.name, Array(flat[$0.offset ..< $0.offset + $0.count])) })
            let sd = Double(edm.config.sigmaData)
            func slope(_ x: [Double], _ s: Double) -> [Double] {
                let cin = 1 / (s * s + sd * sd).squareRoot(), cnoise = Float(log(s) / 4)
                let embedding = Reference.timeEmbedding([Float](repeating: cnoise, count: rows), frequencies: 2, scale: 3).map(Double.init)
                var input = [Double]()
                for r in 0 ..< rows {
                    input += [cin * x[2 * r], cin * x[2 * r + 1]]
                    input += embedding[4 * r ..< 4 * r + 4]
                }
                let net = Reference.residualMLPForward(config.resmlp, parameters: named, input: input,
                                                       t: [Float](repeating: cnoise, count: rows), batch: rows)
                return x.indices.map { Reference.edmFlowSlope(x[$0], network: net[$0], sigma: s, sigmaData: sd) }
            }
            let sigmas = Array(edm.config.karrasGrid(count: steps).reversed()).map(Double.init) + [0]
            var x = noise.map { Double($0) * sigmas[0] }
            for i in 0 ..< steps {
                let (s, t) = (sigmas[i], sigmas[i + 1])
                let g = slope(x, s), euler = x.indices.map { x[$0] + (t - s) * g[$0] }
                if t > 0 {
                    let g2 = slope(euler, t)
                    x = x.indices.map { x[$0] + (t - s) * 0.5 * (g[$0] + g2[$0]) }
                } else {
                    x = euler
                }
            }
            let worst = zip(samples, x).map { abs(Double($0) - $1) }.max()!
            print("Heun \(steps) steps: largest difference from the float64 twin \(worst)")
            expectClose(samples, x.map(Float.init), rtol: 1e-4, atol: 2e-4, "heun \(steps) steps")
        }
    }
}
