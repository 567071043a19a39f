import Foundation
import StepLabGenerative

/// `steplab train`'s loop over a set-up trainer: steps, checkpoints, the metrics log, divergence and interrupts.
struct TrainingLoop {
    let trainer: DataParallelTrainer
    let config: RunConfig
    let folder: RunFolder
    let job: TrainingJob
    /// Devices over all ranks, recorded with each checkpoint.
    let devices: Int
    /// Checkpoints kept (`--keep-checkpoints`).
    let keep: Int
    let start = Date()
    /// The step the loop started at (past zero when resumed).
    let firstStep: Int

    init(trainer: DataParallelTrainer, config: RunConfig, folder: RunFolder, job: TrainingJob, devices: Int, keep: Int) {
        self.trainer = trainer; self.config = config; self.folder = folder; self.job = job; self.devices = devices; self.keep = keep
        firstStep = trainer.step
    }

    /// Rank 0 writes the trainer's state as a checkpoint; other ranks write nothing.
    func checkpoint() throws {
        guard job.writes else { return }
        try folder.saveCheckpoint(trainer.state(), config: config, devices: devices, keep: keep)
    }

    /// Trains to the run's iterations; false when it stopped early (an interrupt or `stopAfter`) with a checkpoint.
    func train(stopAfter: Int?, checkpointEvery: Int, logEvery: Int, log: MetricsLog?) throws -> Bool {
        while trainer.step < config.iterations {
            if try job.agree(stop: interruptRequested != 0 || trainer.step == stopAfter) {
                try checkpoint()
                if job.writes {
                    Progress.finish()
                    print("stopped at step \(trainer.step) with a checkpoint; continue with: steplab train --resume \(folder.url.path)")
                }
                return false
            }
            try trainer.trainStep()
            if trainer.step % checkpointEvery == 0 && trainer.step < config.iterations {
                // Never checkpoint a diverged state: the last good checkpoint must survive.
                guard try job.average(trainer.meanLoss()).isFinite else {
                    throw CLIError("training diverged at step \(trainer.step) (non-finite loss); the last good checkpoint is kept")
                }
                try checkpoint()
            }
            if trainer.step % logEvery == 0 || trainer.step == config.iterations { try report(log) }
        }
        return true
    }

    /// The whole job's mean loss and the gradient norm, logged; every rank sees a divergence at the same step.
    func report(_ log: MetricsLog?) throws {
        let loss = try job.average(trainer.meanLoss()), norm = try trainer.gradientNorm()
        let wall = Date().timeIntervalSince(start)
        guard loss.isFinite, norm.isFinite else {
            let kept = folder.checkpointSteps().last.map { "the last good checkpoint (step \($0)) is kept" } ?? "no checkpoint was written"
            throw CLIError("training diverged at step \(trainer.step): loss \(loss), gradient norm \(norm); \(kept)")
        }
        if let log {
            try log.append(step: trainer.step, loss: loss, gradientNorm: norm, lr: config.schedule.rate(base: config.learningRate, at: trainer.step - 1),
                           wallTime: wall)
            Progress.report(step: trainer.step, total: config.iterations, loss: loss, elapsed: wall, since: firstStep)
        }
    }
}
