import OpenCLKit
import StepLabEngine

/// One step of a training method: from clean samples to parameter gradients, entirely on the device.
public protocol TrainingObjective: AnyObject {
    /// The network being trained.
    var model: Denoiser { get }
    /// The rows of each step's global batch it computes: all of them, or a data-parallel replica's share.
    var shard: BatchShard { get }
    /// Writes dL/dθ of this step's loss into `model.parameters.gradients` (zeroing them first) and returns the per-sample
    /// losses (batch x 1, on the device).
    func computeGradients(x0: Tensor, step: Int) throws(OpenCLError) -> Tensor
    /// Hands the objective the trainer's EMA of the weights (nil: none), for objectives whose targets use it.
    func attach(ema: EMA?)
}

extension TrainingObjective {
    public func attach(ema: EMA?) {}
}

/// Diffusion training on the VP cosine schedule: t ~ U(0, 1), z_t = alpha_t x + sigma_t eps, and a weighted
/// squared error between the network output and the target of its parameterisation (Ho et al. 2020;
/// Salimans & Ho 2022 for v; MCM Sec. 3 for the SNR + 1 weighting).
public final class DiffusionObjective: TrainingObjective {
    public let model: Denoiser
    public var prediction: Prediction { model.config.prediction }
    public let weighting: DiffusionWeighting
    public let key: RandomKey
    /// The rows of the step's global batch this objective computes (all of them unless data-parallel).
    public let shard: BatchShard
    let t, target, weight, perSample, gradient: Tensor
    let tape: Tape

    /// Random streams of a run's seed, so every use draws independent numbers keyed by the step.

    /// `weighting` defaults to SNR + 1 for x-prediction (the v-loss, MCM Sec. 3) and to none for eps and v
    /// (the v-loss already carries that weight in x-space). `firstRow`: where this replica's `batch` rows start in
    /// a data-parallel step's global batch.
    public init(model: Denoiser, batch: Int, weighting: DiffusionWeighting? = nil, seed: UInt64, firstRow: Int = 0) throws(OpenCLError) {
        let engine = model.engine
        let d = model.config.dimension
        self.model = model
        self.weighting = weighting ?? (model.config.prediction == .x ? .snrPlusOne : .none)
        key = RandomKey(seed: seed)
        shard = BatchShard(firstRow: firstRow, rows: batch)
        t = try engine.tensor(rows: batch, columns: 1)
        target = try engine.tensor(rows: batch, columns: d)
        weight = try engine.tensor(rows: batch, columns: 1)
        perSample = try engine.tensor(rows: batch, columns: 1)
        gradient = try engine.tensor(rows: batch, columns: d)
        tape = model.makeTape()
    }

    public func computeGradients(x0: Tensor, step: Int) throws(OpenCLError) -> Tensor {
        let engine = model.engine
        let counter = UInt64(step)
        try model.parameters.zeroGradients(engine: engine)
        try tape.begin(batch: x0.rows, recording: true)
        let input = try tape.allocate(columns: model.config.inputs)
        // Noise, times, network input and target in one launch (it matters where launches dominate the step).
        try engine.diffusionBatch(prediction, weighting: weighting, x: x0,
                                  timeKey: shard.elementKey(RandomKey(seed: key.seed, stream: .diffusionTime, counter: counter), columns: 1),
                                  noiseKey: shard.elementKey(RandomKey(seed: key.seed, stream: .diffusionNoise, counter: counter),
                                                             columns: x0.columns),
                                  scale: model.config.timeScale, t: t, input: input, target: target, weight: weight)
        let output = try model.forward(networkInput: input, t: t, tape: tape)
        try engine.loss(.squaredError, prediction: output, target: target,
                        weights: weighting == .none ? nil : weight, perSample: perSample, gradient: gradient)
        try model.backward(outputGradient: gradient, tape: tape)
        return perSample
    }
}
