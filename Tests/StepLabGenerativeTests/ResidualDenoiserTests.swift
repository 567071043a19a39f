import Foundation
import StepLabData
import StepLabEngine
import StepLabTestSupport
import Testing
@testable import StepLabGenerative

@Suite struct ResidualDenoiserTests {
    /// A small resmlp diffusion model puts its samples on the eight blobs: the mean distance to the nearest centre
    /// falls from that of the untrained network's samples to near the data's own 0.13.
    @Test func aResidualDiffusionModelLearnsEightGaussians() throws {
        try SharedEngine.withEngine { engine in
            let data = ConsistencyTests.unitData(count: 8192, seed: 2)
            let source = try DeviceDataset(engine: engine, values: data, count: 8192, dimension: 2, seed: 4)
            let config = DenoiserConfig(dimension: 2, architecture: .resmlp, width: 64, blocks: 2, prediction: .v)
            let model = try Denoiser(engine: engine, config: config, seed: 11)
            let noise = try TestData.noise(engine, rows: 1024, columns: 2, seed: 5)
            let sampler = VPSampler(model: model)
            let before = ConsistencyTests.distance(try sampler.sample(noise: noise, steps: 64).download())
            let trainer = try Trainer(objective: DiffusionObjective(model: model, batch: 512, seed: 12), source: source,
                                      config: OptimizationConfig(learningRate: 2e-3, emaDecay: nil))
            for _ in 0 ..< 1500 { try trainer.trainStep() }
            let after = ConsistencyTests.distance(try sampler.sample(noise: noise, steps: 64).download())
            print("resmlp diffusion: mean distance to the nearest centre \(before) -> \(after) (data: 0.13)")
            #expect(before > 0.5)
            #expect(after < 0.25)
        }
    }
}
