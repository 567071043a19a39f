import Foundation
import OpenCLKit
import StepLabEngine

/// Deterministic samplers for models on the VP cosine schedule (diffusion and multistep consistency models).
///
/// With N steps the times are t_i = i / N; from z_1 = noise each step predicts x at t_i and jumps to
/// t_(i-1). t = 0 is the data boundary, so the last step returns the x-prediction itself. An S-segment
/// multistep consistency model is sampled with N = S (MCM Algorithm 2); a diffusion model with any N.
public final class VPSampler {
    /// How a step moves z from t_i to t_(i-1).
    public enum Update: String, Sendable, Codable, CaseIterable {
        /// DDIM (MCM Eq. 4).
        case ddim
        /// aDDIM (MCM Algorithm 3) with the analytic variance 0.1 / (2 + SNR(t)) (MCM Sec. 4).
        case addim
    }

    public let model: Denoiser
    public var engine: Engine { model.engine }

    /// Keeps its arena between calls: at large batches a pass's tensors are hundreds of MB, and allocating
    /// (and first touching) them on every call costs as much as a network evaluation.
    private let tape: Tape

    public init(model: Denoiser) {
        self.model = model
        tape = model.makeTape()
        tape.timesShared = true  // every step fills its times column with one value
    }

    /// Samples from `noise` (n x d, consumed as z_1) in `steps` network evaluations; `parameters` selects the
    /// weights (e.g. the EMA). `observe`, when given, sees each step's z_t and x-prediction (steps counted down
    /// from `steps` to 1) before z moves on. Returns the samples (n x d).
    public func sample(noise: Tensor, steps: Int, update: Update = .ddim, parameters: Tensor? = nil, clip: Float = 0,
                       observe: ((_ step: Int, _ z: Tensor, _ xhat: Tensor) throws -> Void)? = nil) throws -> Tensor {
        guard steps >= 1 else { throw OpenCLError.invalidRequest("sampling needs at least one step (got \(steps))") }
        let n = noise.rows, d = noise.columns
        let z = try engine.tensor(rows: n, columns: d), xhat = try engine.tensor(rows: n, columns: d)
        try z.storage.copy(from: noise.storage, sourceOffset: noise.offset, offset: 0, length: noise.count)
        let t = try engine.tensor(rows: n, columns: 1), s = try engine.tensor(rows: n, columns: 1)
        let xVar = try engine.tensor(rows: n, columns: 1)
        for i in stride(from: steps, through: 1, by: -1) {
            let tv = Float(i) / Float(steps), sv = Float(i - 1) / Float(steps)
            try engine.fill(t, tv)
            try model.predictX(z, t: t, tape: tape, parameters: parameters, clip: clip, recording: false, into: xhat)
            try observe?(i, z, xhat)
            if i == 1 { return xhat }
            try engine.fill(s, sv)
            switch update {
            case .ddim:
                try engine.ddimStep(xhat: xhat, zt: z, t: t, s: s, into: z)
            case .addim:
                let snr = exp(NoiseSchedule.logSNR(Double(tv)))
                try engine.fill(xVar, Float(0.1 / (2 + snr)))
                try engine.aDDIMStep(xhat: xhat, zt: z, xVar: xVar, t: t, s: s, into: z)
            }
        }
        return xhat
    }

    /// The result of the adaptive early-exit sampler.
    public struct EarlyExit {
        public let samples: Tensor
        /// Mean network evaluations per sample (each sample stops on its own).
        public let meanEvaluations: Double
        /// Batched evaluations actually run (until every sample had stopped).
        public let batchSteps: Int
    }

    /// DDIM with `steps` steps where each sample stops once its x-prediction changes by less than
    /// `threshold(progress)` relatively between consecutive steps (progress = fraction of steps done), and
    /// keeps that prediction. The default threshold tightens as sampling proceeds: early predictions must be
    /// very stable to stop, late ones less so (a stop late in the trajectory costs little).
    public func sampleEarlyExit(noise: Tensor, steps: Int, parameters: Tensor? = nil,
                                threshold: (Double) -> Double = { progress in 0.0005 + 0.004 * progress }) throws(OpenCLError) -> EarlyExit {
        guard steps >= 1 else { throw .invalidRequest("sampling needs at least one step (got \(steps))") }
        let n = noise.rows, d = noise.columns
        let z = try engine.tensor(rows: n, columns: d), xhat = try engine.tensor(rows: n, columns: d)
        try z.storage.copy(from: noise.storage, sourceOffset: noise.offset, offset: 0, length: noise.count)
        let previous = try engine.tensor(filled: 0, rows: n, columns: d), result = try engine.tensor(filled: 0, rows: n, columns: d)
        let done = try engine.tensor(filled: 0, rows: n, columns: 1), evals = try engine.tensor(filled: 0, rows: n, columns: 1)
        let t = try engine.tensor(rows: n, columns: 1), s = try engine.tensor(rows: n, columns: 1)
        let total = try engine.tensor(rows: 1, columns: 1)
        var batchSteps = 0
        for i in stride(from: steps, through: 1, by: -1) {
            try engine.fill(t, Float(i) / Float(steps))
            try model.predictX(z, t: t, tape: tape, parameters: parameters, recording: false, into: xhat)
            batchSteps += 1
            let progress = Double(steps - i) / Double(steps)
            try engine.earlyExitUpdate(xhat: xhat, previous: previous, result: result, done: done, evaluations: evals,
                                       threshold: Float(threshold(progress)), finalStep: i == 1)
            if i == 1 { break }
            // Check every few steps whether all samples stopped (a host read, so not every step).
            if batchSteps % 4 == 0 {
                try engine.sum(done, into: total)
                if try total.download()[0] >= Float(n) { break }
            }
            try engine.fill(s, Float(i - 1) / Float(steps))
            try engine.ddimStep(xhat: xhat, zt: z, t: t, s: s, into: z)
        }
        try engine.sum(evals, alpha: 1 / Float(n), into: total)
        return EarlyExit(samples: result, meanEvaluations: Double(try total.download()[0]), batchSteps: batchSteps)
    }
}

extension Engine {
    /// The early-exit sampler's bookkeeping after a step (`early_exit_update`), for each row not yet `done`: count the
    /// evaluation, keep `xhat` in `result` and `previous`, and mark the row done at the final step or once
    /// |xhat - previous| < threshold (|previous| + 1e-6) after its first evaluation. Rows done are left alone.
    public func earlyExitUpdate(xhat: Tensor, previous: Tensor, result: Tensor, done: Tensor, evaluations: Tensor,
                                threshold: Float, finalStep: Bool) throws(OpenCLError) {
        try requireSameShape("earlyExitUpdate", xhat, previous, result)
        try requireColumn("earlyExitUpdate", done, evaluations, rows: xhat.rows)
        try launch("sampling.cl", "early_exit_update", global: [xhat.rows], Int32(xhat.columns), threshold, Int32(finalStep ? 1 : 0),
                   xhat.storage, xhat.kernelOffset, previous.storage, previous.kernelOffset, result.storage, result.kernelOffset,
                   done.storage, done.kernelOffset, evaluations.storage, evaluations.kernelOffset)
    }
}

extension Reference {
    /// `earlyExitUpdate` in float64 on row-major rows of `dimension` values (the state arrays updated in place).
    public static func earlyExitUpdate(xhat: [Double], previous: inout [Double], result: inout [Double], done: inout [Double],
                                       evaluations: inout [Double], dimension d: Int, threshold: Double, finalStep: Bool) {
        for r in done.indices where done[r] == 0 {
            let row = r * d ..< (r + 1) * d
            let change = zip(xhat[row], previous[row]).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            let norm = previous[row].reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            let first = evaluations[r] == 0
            evaluations[r] += 1
            for j in row { result[j] = xhat[j]; previous[j] = xhat[j] }
            if finalStep || (!first && change < threshold * (norm + 1e-6)) { done[r] = 1 }
        }
    }
}
