import Foundation
import OpenCLKit
import StepLabEngine

/// Shortcut models' hyperparameters (Frans, Hafner, Levine, Abbeel 2025; `Kernels/shortcut.cl`).
public struct ShortcutConfig: Sendable, Equatable, Codable {
    /// One row in `bootstrapEvery` of each batch is a self-consistency row (the paper's 1/8); the rest flow matching.
    public var bootstrapEvery = 8
    /// Self-consistency step sizes d = 1, 1/2, ..., 2^-(levels - 1) (the paper's 1 .. 1/64 with 128 steps at most).
    public var levels = 7
    /// Self-consistency targets are clipped to [-clip, clip] (the paper's 4).
    public var clip: Float = 4

    public init() {}

    /// The self-consistency rows of a `batch`-row global batch: its first ones.
    public func bootstrapRows(batch: Int) -> Int { Swift.max(1, batch / bootstrapEvery) }
}

extension Engine {
    /// One shortcut batch from clean rows `x` of a shard starting at global row `firstRow` (see `shortcut_batch`).
    public func shortcutBatch(_ config: ShortcutConfig, x: Tensor, firstRow: Int, bootstrapRows: Int, timeKey: RandomKey,
                              noiseKey: RandomKey, scale: Float, input: Tensor, times: Tensor, halfTimes: Tensor,
                              target: Tensor) throws(OpenCLError) {
        let extra = input.columns - x.columns
        guard input.rows == x.rows, extra > 0, extra % 2 == 0, target.sameShape(as: x), times.rows == x.rows, times.columns == 2,
              halfTimes.sameShape(as: times) else {
            throw .invalidRequest("shortcutBatch: input must be [x, 2F columns], times and half times rows x 2, target like x")
        }
        let (tc, tk) = (timeKey.philoxCounter, timeKey.philoxKey), (ec, ek) = (noiseKey.philoxCounter, noiseKey.philoxKey)
        try launch("shortcut.cl", "shortcut_batch", global: [x.rows], Int32(x.columns), Int32(extra / 2), scale, Int32(firstRow),
                   Int32(bootstrapRows), Int32(config.levels), x.storage, x.kernelOffset, tc.x, tc.y, tc.z, tc.w, tk.x, tk.y,
                   ec.x, ec.y, ec.z, ec.w, ek.x, ek.y, input.storage, input.kernelOffset, times.storage, times.kernelOffset,
                   halfTimes.storage, halfTimes.kernelOffset, target.storage, target.kernelOffset)
    }

    /// The half jump of self-consistency rows (see `shortcut_half_step`): the next network input and times from
    /// `input` at `halfTimes` and the model's output `s` there.
    public func shortcutHalfStep(input: Tensor, halfTimes: Tensor, output s: Tensor, scale: Float, next: Tensor,
                                 nextTimes: Tensor) throws(OpenCLError) {
        let extra = input.columns - s.columns
        guard next.sameShape(as: input), nextTimes.sameShape(as: halfTimes), halfTimes.rows == input.rows, halfTimes.columns == 2,
              s.rows == input.rows, extra > 0, extra % 2 == 0 else {
            throw .invalidRequest("shortcutHalfStep: input and next [z, 2F columns], times rows x 2, output rows x d")
        }
        try launch("shortcut.cl", "shortcut_half_step", global: [input.rows], Int32(s.columns), Int32(extra / 2), scale,
                   input.storage, input.kernelOffset, halfTimes.storage, halfTimes.kernelOffset, s.storage, s.kernelOffset,
                   next.storage, next.kernelOffset, nextTimes.storage, nextTimes.kernelOffset)
    }
}

/// Shortcut-model training: the network s(z_t, t, d), conditioned on the time and the step size, regresses the
/// flow's velocity at the smallest step d = 2^-levels on most rows, and on the self-consistency rows the mean of two half jumps of size d / 2
/// made by the EMA weights (the online ones without an EMA), clipped, under a stop-gradient. No JVP.
public final class ShortcutObjective: TrainingObjective {
    public let model: Denoiser
    public let config: ShortcutConfig
    public let key: RandomKey
    public let shard: BatchShard
    /// Self-consistency rows of the global batch, and of this shard (its first rows).
    let bootstrapRows: Int
    let localBootstrapRows: Int
    let input, times, halfTimes, target, next, nextTimes, perSample, gradient: Tensor
    let tape, firstJump, secondJump: Tape
    /// The weights the self-consistency targets are made with (the trainer's EMA, `attach(ema:)`).
    private var targetWeights: Tensor?

    /// `globalBatch`: the rows of the whole step (this shard's `batch` rows start at `firstRow` in it).
    public init(model: Denoiser, config: ShortcutConfig = ShortcutConfig(), batch: Int, globalBatch: Int? = nil, seed: UInt64,
                firstRow: Int = 0) throws(OpenCLError) {
        guard model.config.timeInputs == 2 else {
            throw .invalidRequest("shortcut needs a network conditioned on two times, (t, d) (got \(model.config.timeInputs ?? 1))")
        }
        guard config.levels >= 1, config.levels <= 16, config.bootstrapEvery >= 1 else {
            throw .invalidRequest("shortcut: levels must be in 1 ... 16 and bootstrapEvery positive")
        }
        let engine = model.engine, d = model.config.dimension, inputs = model.config.inputs
        self.model = model
        self.config = config
        key = RandomKey(seed: seed)
        shard = BatchShard(firstRow: firstRow, rows: batch)
        bootstrapRows = config.bootstrapRows(batch: globalBatch ?? batch)
        localBootstrapRows = Swift.max(0, Swift.min(batch, bootstrapRows - firstRow))
        input = try engine.tensor(rows: batch, columns: inputs)
        times = try engine.tensor(rows: batch, columns: 2)
        halfTimes = try engine.tensor(rows: batch, columns: 2)
        target = try engine.tensor(rows: batch, columns: d)
        let k = Swift.max(1, localBootstrapRows)
        next = try engine.tensor(rows: k, columns: inputs)
        nextTimes = try engine.tensor(rows: k, columns: 2)
        perSample = try engine.tensor(rows: batch, columns: 1)
        gradient = try engine.tensor(rows: batch, columns: d)
        tape = model.makeTape()
        firstJump = model.makeTape()
        secondJump = model.makeTape()
    }

    public func attach(ema: EMA?) { targetWeights = ema?.values }

    public func computeGradients(x0: Tensor, step: Int) throws(OpenCLError) -> Tensor {
        let engine = model.engine, counter = UInt64(step), scale = model.config.timeScale
        try model.parameters.zeroGradients(engine: engine)
        try engine.shortcutBatch(config, x: x0, firstRow: shard.firstRow, bootstrapRows: bootstrapRows,
                                 timeKey: shard.rowKey(RandomKey(seed: key.seed, stream: .shortcutDraws, counter: counter)),
                                 noiseKey: shard.elementKey(RandomKey(seed: key.seed, stream: .shortcutNoise, counter: counter), columns: x0.columns),
                                 scale: scale, input: input, times: times, halfTimes: halfTimes, target: target)
        if localBootstrapRows > 0 {
            let k = localBootstrapRows
            let (z, half) = (try input.rows(0, count: k), try halfTimes.rows(0, count: k))
            let s1 = try model.network.run(z, time: half, tape: firstJump, parameters: targetWeights, recording: false)
            try engine.shortcutHalfStep(input: z, halfTimes: half, output: s1, scale: scale, next: next, nextTimes: nextTimes)
            let s2 = try model.network.run(next, time: nextTimes, tape: secondJump, parameters: targetWeights, recording: false)
            let jump = try target.rows(0, count: k)
            try engine.axpby(0.5, s1, 0.5, s2, into: jump)
            try engine.clamp(jump, -config.clip, config.clip, into: jump)
        }
        let output = try model.network.run(input, time: times, tape: tape)
        try engine.loss(.squaredError, prediction: output, target: target, perSample: perSample, gradient: gradient)
        try model.network.backward(gradient, tape: tape)
        return perSample
    }
}

extension Reference {
    /// `shortcut_batch`'s (t, d) of a row in float64 from its Philox block's first two words.
    public static func shortcutDraws(_ words: (UInt32, UInt32), bootstrap: Bool, levels: Int) -> (t: Double, d: Double) {
        guard bootstrap else { return (Double(((words.0 >> 9) << 1) | 1) / 16777216, 1 / Double(1 << levels)) }
        let slots = 1 << Int(words.0 % UInt32(levels)), d = 1 / Double(slots)
        return (d * Double(1 + Int(words.1 % UInt32(slots))), d)
    }
}
