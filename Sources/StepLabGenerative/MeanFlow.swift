import Foundation
import OpenCLKit
import StepLabEngine

/// MeanFlow's hyperparameters (Geng, Deng, Bai, Kolter, He 2025; `Kernels/meanflow.cl`).
public struct MeanFlowConfig: Sendable, Equatable, Codable {
    /// (t, r) are both logit-normal(mean, std), t the larger.
    public var logitMean: Float = -0.4
    public var logitStd: Float = 1.0
    /// The share of rows with r != t; the others are plain flow matching (the paper: 25% on ImageNet, 75% on CIFAR-10;
    /// with 0% one-step samples fail).
    public var ratio: Float = 0.25
    /// The adaptive weight 1 / (m + c)^p of a row's mean squared error m (the paper's p = 1, c = 1e-3).
    public var power: Float = 1
    public var offset: Float = 1e-3

    public init() {}
}

extension Engine {
    /// One MeanFlow batch from clean rows `x` (see `meanflow_batch`): the network input [z, emb(t)] and its tangent
    /// along (v, dt = 1), the times [t, t - r] (rows x 2) and the velocity v = eps - x.
    public func meanFlowBatch(_ config: MeanFlowConfig, x: Tensor, timeKey: RandomKey, noiseKey: RandomKey, scale: Float,
                              input: Tensor, inputTangent: Tensor, times: Tensor, velocity: Tensor) throws(OpenCLError) {
        let extra = input.columns - x.columns
        guard input.sameShape(as: inputTangent), input.rows == x.rows, extra > 0, extra % 2 == 0, velocity.sameShape(as: x),
              times.rows == x.rows, times.columns == 2 else {
            throw .invalidRequest("meanFlowBatch: input and its tangent must be [x, 2F columns], times rows x 2, velocity like x")
        }
        let (tc, tk) = (timeKey.philoxCounter, timeKey.philoxKey), (ec, ek) = (noiseKey.philoxCounter, noiseKey.philoxKey)
        try launch("meanflow.cl", "meanflow_batch", global: [x.rows], Int32(x.columns), Int32(extra / 2), scale, config.logitMean,
                   config.logitStd, config.ratio, x.storage, x.kernelOffset, tc.x, tc.y, tc.z, tc.w, tk.x, tk.y,
                   ec.x, ec.y, ec.z, ec.w, ek.x, ek.y, input.storage, input.kernelOffset, inputTangent.storage, inputTangent.kernelOffset,
                   times.storage, times.kernelOffset, velocity.storage, velocity.kernelOffset)
    }

    /// Each row's mean squared error against the MeanFlow target v - (t - r) du/dt into `perSample`, and the gradient
    /// of the batch mean of the adaptively weighted error into `gradient` (see `meanflow_loss`).
    public func meanFlowLoss(_ config: MeanFlowConfig, output u: Tensor, derivative dudt: Tensor, velocity: Tensor, times: Tensor,
                             perSample: Tensor, gradient: Tensor) throws(OpenCLError) {
        try requireSameShape("meanFlowLoss", u, dudt, velocity, gradient)
        guard times.rows == u.rows, times.columns == 2, perSample.count == u.rows else {
            throw .invalidRequest("meanFlowLoss: times must be rows x 2 and the per-sample losses one per row")
        }
        try launch("meanflow.cl", "meanflow_loss", global: [u.rows], Int32(u.columns), 1 / Float(u.rows), config.power, config.offset,
                   u.storage, u.kernelOffset, dudt.storage, dudt.kernelOffset, velocity.storage, velocity.kernelOffset,
                   times.storage, times.kernelOffset, perSample.storage, perSample.kernelOffset, gradient.storage, gradient.kernelOffset)
    }
}

/// MeanFlow training: the network, conditioned on (t, t - r), regresses the average velocity u(z_t, r, t) onto
/// sg(v - (t - r) du/dt), with du/dt the network's own JVP along (v, 0, 1) (`Network.jvp`, one pass that also
/// records the primal for the backward). The target's derivative is a stop-gradient, so no second-order term.
public final class MeanFlowObjective: TrainingObjective {
    public let model: Denoiser
    public let config: MeanFlowConfig
    public let key: RandomKey
    public let shard: BatchShard
    let input, inputTangent, times, timesTangent, velocity, perSample, gradient: Tensor
    let tape: Tape

    public init(model: Denoiser, config: MeanFlowConfig = MeanFlowConfig(), batch: Int, seed: UInt64, firstRow: Int = 0) throws(OpenCLError) {
        guard model.config.timeInputs == 2 else {
            throw .invalidRequest("meanflow needs a network conditioned on two times, (t, t - r) (got \(model.config.timeInputs ?? 1))")
        }
        let engine = model.engine, d = model.config.dimension
        self.model = model
        self.config = config
        key = RandomKey(seed: seed)
        shard = BatchShard(firstRow: firstRow, rows: batch)
        input = try engine.tensor(rows: batch, columns: model.config.inputs)
        inputTangent = try engine.tensor(rows: batch, columns: model.config.inputs)
        times = try engine.tensor(rows: batch, columns: 2)
        // d(t, t - r)/dt with r held: (1, 1).
        timesTangent = try engine.tensor(filled: 1, rows: batch, columns: 2)
        velocity = try engine.tensor(rows: batch, columns: d)
        perSample = try engine.tensor(rows: batch, columns: 1)
        gradient = try engine.tensor(rows: batch, columns: d)
        tape = model.makeTape()
    }

    public func computeGradients(x0: Tensor, step: Int) throws(OpenCLError) -> Tensor {
        let engine = model.engine, counter = UInt64(step)
        try model.parameters.zeroGradients(engine: engine)
        try engine.meanFlowBatch(config, x: x0,
                                 timeKey: shard.rowKey(RandomKey(seed: key.seed, stream: .meanFlowTimes, counter: counter)),
                                 noiseKey: shard.elementKey(RandomKey(seed: key.seed, stream: .meanFlowNoise, counter: counter), columns: x0.columns),
                                 scale: model.config.timeScale, input: input, inputTangent: inputTangent, times: times, velocity: velocity)
        let (u, dudt) = try model.network.jvp(input, tangent: inputTangent, time: times, timeTangent: timesTangent, tape: tape,
                                              recording: true)
        try engine.meanFlowLoss(config, output: u, derivative: dudt, velocity: velocity, times: times, perSample: perSample,
                                gradient: gradient)
        try model.network.backward(gradient, tape: tape)
        return perSample
    }
}

extension Reference {
    /// `meanflow_times` in float64 from one Philox block's words: (t, r).
    public static func meanFlowTimes(_ words: (UInt32, UInt32, UInt32), config: MeanFlowConfig) -> (t: Double, r: Double) {
        // random.cl's unit_open: (2k + 1) / 2^24 for the top 23 bits k.
        func unit(_ w: UInt32) -> Double { Double(((w >> 9) << 1) | 1) / 16777216 }
        let radius = (-2 * Foundation.log(unit(words.0))).squareRoot(), angle = 2 * Double.pi * unit(words.1)
        let (n0, n1) = (radius * cos(angle), radius * sin(angle))
        func logistic(_ n: Double) -> Double { 1 / (1 + Foundation.exp(-(Double(config.logitMean) + Double(config.logitStd) * n))) }
        let (a, b) = (logistic(n0), logistic(n1))
        let t = max(a, b)
        return (t, unit(words.2) < Double(config.ratio) ? min(a, b) : t)
    }

    /// `meanflow_loss` in float64: each row's mean squared error against v - (t - r) du/dt, and the gradient of the
    /// batch mean of the adaptively weighted error.
    public static func meanFlowLoss(_ config: MeanFlowConfig, output u: [Double], derivative dudt: [Double], velocity v: [Double],
                                    intervals h: [Double], columns d: Int) -> (perSample: [Double], gradient: [Double]) {
        let rows = h.count
        var perSample = [Double](), gradient = [Double]()
        for r in 0 ..< rows {
            let delta = (0 ..< d).map { j in u[r * d + j] - (v[r * d + j] - h[r] * dudt[r * d + j]) }
            let m = delta.reduce(0) { $0 + $1 * $1 } / Double(d)
            perSample.append(m)
            let scale = 2 / (Double(d) * Double(rows) * pow(m + Double(config.offset), Double(config.power)))
            gradient += delta.map { scale * $0 }
        }
        return (perSample, gradient)
    }
}
