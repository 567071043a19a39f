import Foundation
import StepLabData
import StepLabEngine
import StepLabTestSupport
import Testing
@testable import StepLabGenerative

@Suite struct UNetDenoiserTests {
    /// Four 8x8 images: a bright 4x4 square in one quadrant on a dark ground (pixels +-1), each the mode of the data.
    static let modes: [[Float]] = (0 ..< 4).map { q in
        (0 ..< 64).map { i in (i / 8 / 4 == q / 2 && i % 8 / 4 == q % 2) ? 1 : -1 }
    }

    /// Root-mean-square distance per pixel from each image to the nearest mode.
    static func distanceToModes(_ images: [Float]) -> Double {
        var total = 0.0
        for start in stride(from: 0, to: images.count, by: 64) {
            var nearest = Double.infinity
            for mode in modes {
                var squared = 0.0
                for i in 0 ..< 64 {
                    let d = Double(images[start + i] - mode[i])
                    squared += d * d
                }
                nearest = Swift.min(nearest, squared / 64)
            }
            total += nearest
        }
        return (total / Double(images.count / 64)).squareRoot()
    }

    /// A tiny U-Net diffusion model puts its samples on the four modes: the distance to the nearest mode falls from
    /// that of the untrained network's samples (about 1) to a small fraction of it.
    @Test func aUNetDiffusionModelLearnsFourImages() throws {
        try SharedEngine.withEngine { engine in
            var random = HostRandom(seed: 3)
            let count = 1024
            let data = (0 ..< count).flatMap { _ in Self.modes[Int(random.next() % 4)].map { $0 + random.uniform(-0.05, 0.05) } }
            let source = try DeviceDataset(engine: engine, values: data, count: count, dimension: 64, seed: 4)
            let shape = UNetShape(height: 8, width: 8, imageChannels: 1, channels: 8, channelMult: [1, 2], groups: 4)
            let config = DenoiserConfig(dimension: 64, architecture: .unet, prediction: .v, unet: shape)
            let model = try Denoiser(engine: engine, config: config, seed: 11)
            let noise = try TestData.noise(engine, rows: 128, columns: 64, seed: 5)
            let sampler = VPSampler(model: model)
            let before = Self.distanceToModes(try sampler.sample(noise: noise, steps: 16, clip: 1).download())
            let trainer = try Trainer(objective: DiffusionObjective(model: model, batch: 64, seed: 12), source: source,
                                      config: OptimizationConfig(learningRate: 2e-3, emaDecay: nil))
            for _ in 0 ..< 300 { try trainer.trainStep() }
            let after = Self.distanceToModes(try sampler.sample(noise: noise, steps: 16, clip: 1).download())
            print("unet diffusion: RMS distance to the nearest mode \(before) -> \(after)")
            #expect(before > 0.6)
            #expect(after < 0.25 * before)
        }
    }
}
