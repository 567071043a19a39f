import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// What one training run of the study produced, besides the model.
struct TrainingRecord {
    var losses: [Float] = []
    var gradientNorms: [Float] = []
    var seconds: Double = 0
    var finite = true

    /// Coefficient of variation (std / mean) of the logged loss over the last 20% of training.
    var lossNoise: Double {
        let tail = losses.suffix(Swift.max(2, losses.count / 5)).map(Double.init)
        guard tail.count >= 2 else { return .nan }
        let mean = tail.reduce(0, +) / Double(tail.count)
        let variance = tail.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(tail.count - 1)
        return variance.squareRoot() / Swift.max(abs(mean), 1e-12)
    }

    /// Logged steps whose gradient norm exceeds 10x the running median of the norms logged before them.
    var gradientSpikes: Int {
        var spikes = 0
        for i in 10 ..< Swift.max(10, gradientNorms.count) {
            let history = gradientNorms[..<i].sorted()
            if gradientNorms[i] > 10 * history[history.count / 2] { spikes += 1 }
        }
        return spikes
    }
}

/// Trains study models with a shared budget and records the statistics the report needs.
struct StudyTrainer {
    let engine: Engine
    let source: any BatchSource
    let denoiser: DenoiserConfig
    let iterations: Int
    let optimization: OptimizationConfig
    /// Loss and gradient norm are read every this many steps (a host read each time).
    let logEvery: Int

    /// Trains `objective` for `iterations` (default: the study's budget).
    func train(_ objective: any TrainingObjective, iterations: Int? = nil) throws -> (Trainer, TrainingRecord) {
        let trainer = try Trainer(objective: objective, source: source,
                                  config: optimization)
        var record = TrainingRecord()
        try proceed(trainer, until: iterations ?? self.iterations, record: &record)
        return (trainer, record)
    }

    /// Continues `trainer` up to step `target`, appending to `record`.
    func proceed(_ trainer: Trainer, until target: Int, record: inout TrainingRecord) throws {
        let start = Date()
        while trainer.step < target {
            try trainer.trainStep()
            if trainer.step % logEvery == 0 {
                let loss = try trainer.meanLoss(), norm = try trainer.gradientNorm()
                record.losses.append(loss)
                record.gradientNorms.append(norm)
                if !loss.isFinite || !norm.isFinite { record.finite = false; break }
            }
        }
        try engine.synchronize()
        record.seconds += Date().timeIntervalSince(start)
    }

    func newModel(seed: UInt64) throws -> Denoiser { try Denoiser(engine: engine, config: denoiser, seed: seed) }

    /// A copy of `model`'s EMA (or raw) weights in a new network: the paper's initialisation of consistency
    /// models from a diffusion model.
    func copy(of trainer: Trainer, seed: UInt64) throws -> Denoiser {
        let model = try newModel(seed: seed)
        let weights = trainer.ema?.values ?? trainer.model.parameters.values
        try model.parameters.assign(from: weights)
        return model
    }
}
