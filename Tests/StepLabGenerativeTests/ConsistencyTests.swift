import Foundation
import StepLabData
import StepLabEngine
import StepLabTestSupport
import Testing
@testable import StepLabGenerative

@Suite struct ConsistencyTests {
    /// Eight Gaussians scaled to unit variance per dimension (the EDM configs assume sigma_data = 1).
    static let scale = Float(1 / 2.0.squareRoot())

    static func unitData(count: Int, seed: UInt64) -> [Float] {
        TestData.eightGaussians(count: count, seed: seed).map { $0 * scale }
    }

    static func distance(_ samples: [Float]) -> Double {
        TestData.meanDistanceToCentres(samples.map { $0 / scale })
    }

    @Test func boundaryScalingsMakeTheModelTheIdentityAtSigmaMin() throws {
        try SharedEngine.withEngine { engine in
            let network = try Denoiser(engine: engine, config: DenoiserConfig(dimension: 3, width: 16, depth: 1), seed: 1)
            let model = EDMModel(network: network, config: EDMConfig(), boundary: true)
            var random = TestRandom(seed: 2)
            let x = random.array(17 * 3, -3, 3)
            let tx = try engine.tensor(x, rows: 17, columns: 3), out = try engine.tensor(rows: 17, columns: 3)
            let sigma = try engine.tensor(filled: EDMConfig().sigmaMin, rows: 17, columns: 1)
            try model.denoise(tx, sigma: sigma, tape: model.makeTape(), into: out)
            #expect(try out.download() == x)
        }
    }

    @Test func curriculumAndPairDistributionFollowICT() {
        let config = ConsistencyConfig(totalIterations: 800)
        // K' = floor(800 / (log2(128) + 1)) = 100: N doubles every 100 iterations from 11 to 1281.
        #expect(config.gridSize(at: 0) == 11)
        #expect(config.gridSize(at: 100) == 21)
        #expect(config.gridSize(at: 799) == 1281)
        let grid = config.edm.karrasGrid(count: 11)
        #expect(abs(grid.first! - 0.002) < 1e-6 && abs(grid.last! - 80) < 1e-3)
        #expect(zip(grid, grid.dropFirst()).allSatisfy { $0 < $1 })
        let cdf = config.pairCDF(grid: grid)
        #expect(cdf.count == 10 && cdf.last == 1 && zip(cdf, cdf.dropFirst()).allSatisfy { $0 <= $1 })
        // Mass concentrates around exp(P_mean) = 0.33, not at the ends of the grid.
        let masses = zip(cdf, [0] + cdf).map { $0 - $1 }
        let peak = masses.indices.max { masses[$0] < masses[$1] }!
        #expect(grid[peak] < 1.5 && grid[peak + 1] > 0.1)
    }

    static func trainAndSample(_ engine: Engine, objective: any TrainingObjective, steps: Int, lr: Float,
                               sample: (Tensor?) throws -> [Float]) throws -> (before: Double, after: Double) {
        let data = unitData(count: 8192, seed: 2)
        let source = try DeviceDataset(engine: engine, values: data, count: 8192, dimension: 2, seed: 4)
        let trainer = try Trainer(objective: objective, source: source, config: OptimizationConfig(learningRate: lr, emaDecay: 0.99))
        let before = distance(try sample(nil))
        for _ in 0 ..< steps { try trainer.trainStep() }
        return (before, distance(try sample(trainer.ema?.values)))
    }

    @Test func oneStepConsistencyTrainingLearns() throws {
        try SharedEngine.withEngine { engine in
            let network = try Denoiser(engine: engine, config: DenoiserConfig(dimension: 2, width: 64, depth: 2), seed: 5)
            let objective = try ConsistencyObjective(model: network, config: ConsistencyConfig(totalIterations: 2000), batch: 512, seed: 6)
            let sampler = EDMSampler(model: objective.edm)
            let noise = try TestData.noise(engine, rows: 1024, columns: 2, seed: 3)
            let result = try Self.trainAndSample(engine, objective: objective, steps: 2000, lr: 2e-3) { parameters in
                try sampler.sampleConsistency(noise: noise, steps: 1, key: RandomKey(seed: 1), parameters: parameters).download()
            }
            print("CT one-step distance to centres: untrained \(result.before), trained \(result.after)")
            // Measured: 1.96 untrained, 1.08 after 2000 steps. One-step CT from scratch is the slow learner this
            // project is about (MCT S=4 reaches 0.30 on the same budget); the bound only asserts clear learning.
            #expect(result.before > 1.5)
            #expect(result.after < 1.4)
        }
    }

    @Test func edmDiffusionLearnsAndHeunSamples() throws {
        try SharedEngine.withEngine { engine in
            let network = try Denoiser(engine: engine, config: DenoiserConfig(dimension: 2, width: 64, depth: 2), seed: 7)
            let objective = try EDMDiffusionObjective(model: network, batch: 512, seed: 8)
            let sampler = EDMSampler(model: objective.edm)
            let noise = try TestData.noise(engine, rows: 1024, columns: 2, seed: 3)
            let result = try Self.trainAndSample(engine, objective: objective, steps: 1500, lr: 2e-3) { parameters in
                try sampler.sample(noise: noise, steps: 16, solver: .heun, parameters: parameters).samples.download()
            }
            print("EDM Heun-16 distance to centres: untrained \(result.before), trained \(result.after)")
            // Measured: 0.95 untrained, 0.33 after 1500 steps (true samples: 0.13).
            #expect(result.before > 0.8)
            #expect(result.after < 0.5)
        }
    }
}
