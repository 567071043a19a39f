import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
@testable import StepLabGenerative

/// Host-sampled data for the method tests.
enum TestData {
    static let centres: [(Float, Float)] = (0 ..< 8).map { (k: Int) -> (Float, Float) in
        let angle = Double(k) * Double.pi / 4
        return (Float(2 * cos(angle)), Float(2 * sin(angle)))
    }

    /// Eight Gaussians (radius 2, std 0.1), row-major n x 2.
    static func eightGaussians(count: Int, seed: UInt64) -> [Float] {
        var random = HostRandom(seed: seed)
        var values: [Float] = []
        for _ in 0 ..< count {
            let c = centres[Int(random.next() % 8)]
            let u1 = Double(random.uniform(1e-7, 1)), u2 = Double(random.uniform(0, 1))
            let r = (-2 * log(u1)).squareRoot()
            values.append(c.0 + Float(0.1 * r * cos(2 * .pi * u2)))
            values.append(c.1 + Float(0.1 * r * sin(2 * .pi * u2)))
        }
        return values
    }

    /// Mean distance from each point to the nearest centre: about 0.13 for true samples.
    static func meanDistanceToCentres(_ points: [Float]) -> Double {
        stride(from: 0, to: points.count, by: 2).map { i in
            centres.map { hypot(Double(points[i] - $0.0), Double(points[i + 1] - $0.1)) }.min()!
        }.reduce(0, +) / Double(points.count / 2)
    }

    /// Standard normal noise for `rows x columns`, from the device RNG.
    static func noise(_ engine: Engine, rows: Int, columns: Int, seed: UInt64) throws -> Tensor {
        let tensor = try engine.tensor(rows: rows, columns: columns)
        try engine.normal(into: tensor, key: RandomKey(seed: seed, stream: 99))
        return tensor
    }

    /// A sliced Wasserstein distance to eight Gaussians: 2048 samples `draw` makes from fixed noise (a function of the
    /// noise) against 2048 fresh points; about 0.09 for true samples.
    static func distanceToEightGaussians(_ engine: Engine, _ draw: (Tensor) throws -> Tensor) throws -> Double {
        let noise = try Self.noise(engine, rows: 2048, columns: 2, seed: 1)
        let reference = PointSet(count: 2048, dimension: 2, values: eightGaussians(count: 2048, seed: 9))
        return try SampleMetrics(projections: 128).slicedWasserstein(PointSet(count: 2048, dimension: 2, values: draw(noise).download()),
                                                                     reference)
    }

    /// A two-time resmlp of width 64 with 2 blocks trained 1500 steps on eight Gaussians by `objective`, and its
    /// distances (untrained, then with the EMA weights at 1 and 2 steps of `FlowJumpSampler`).
    static func trainFlowJumps(_ engine: Engine, objective: (Denoiser) throws -> any TrainingObjective) throws
        -> (before: Double, oneStep: Double, twoSteps: Double) {
        let source = try DeviceDataset(engine: engine, values: eightGaussians(count: 8192, seed: 2), count: 8192, dimension: 2, seed: 4)
        let model = try Denoiser(engine: engine, config: DenoiserConfig(dimension: 2, architecture: .resmlp, width: 64, blocks: 2,
                                                                        timeInputs: 2), seed: 5)
        let trainer = try Trainer(objective: objective(model), source: source, config: OptimizationConfig(learningRate: 1e-3, emaDecay: 0.99))
        let sampler = FlowJumpSampler(model: model)
        let before = try distanceToEightGaussians(engine) { try sampler.sample(noise: $0, steps: 1) }
        for _ in 0 ..< 1500 { try trainer.trainStep() }
        let ema = trainer.ema?.values
        return (before, try distanceToEightGaussians(engine) { try sampler.sample(noise: $0, steps: 1, parameters: ema) },
                try distanceToEightGaussians(engine) { try sampler.sample(noise: $0, steps: 2, parameters: ema) })
    }
}
