import OpenCLKit
import StepLabData
import StepLabEngine

/// Optimisation settings shared by every method.
public struct OptimizationConfig: Sendable, Equatable, Codable {
    /// The base learning rate; `schedule` shapes it over the run.
    public var learningRate: Float = 1e-3
    public var schedule: LearningRateSchedule = .constant
    public var adam = AdamW.Hyperparameters()
    /// Decay of the EMA of weights used for sampling; nil keeps no EMA.
    public var emaDecay: Float? = 0.999
    public init(learningRate: Float = 1e-3, schedule: LearningRateSchedule = .constant, adam: AdamW.Hyperparameters = .init(),
                emaDecay: Float? = 0.999) {
        self.learningRate = learningRate; self.schedule = schedule; self.adam = adam; self.emaDecay = emaDecay
    }
}

/// Drives an objective: per step, a batch from the source, gradients from the objective, an AdamW update and
/// an EMA update, all enqueued on the device without a host round trip. `meanLoss()` reads the loss when asked.
public final class Trainer {
    public let objective: any TrainingObjective
    public let source: any BatchSource
    public let optimizer: AdamW
    public let ema: EMA?
    public var config: OptimizationConfig
    /// Rows a step (the objective's shard).
    public var batch: Int { objective.shard.rows }
    /// Steps completed.
    public private(set) var step = 0
    let x0: Tensor
    var lastPerSample: Tensor?
    let meanBuffer: Tensor

    public var model: Denoiser { objective.model }
    public var engine: Engine { objective.model.engine }

    /// A trainer of `objective`, fed the rows its shard computes each step (the whole batch, or a data-parallel
    /// replica's share of it).
    public init(objective: any TrainingObjective, source: any BatchSource, config: OptimizationConfig) throws(OpenCLError) {
        guard source.dimension == objective.model.config.dimension else {
            throw .invalidRequest("data has dimension \(source.dimension), the model expects \(objective.model.config.dimension)")
        }
        let engine = objective.model.engine
        let parameters = objective.model.parameters
        self.objective = objective
        self.source = source
        self.config = config
        optimizer = try AdamW(parameters: parameters, engine: engine, hyperparameters: config.adam)
        ema = try config.emaDecay.map { decay throws(OpenCLError) in try EMA(parameters: parameters, engine: engine, decay: decay) }
        objective.attach(ema: ema)
        x0 = try engine.tensor(rows: objective.shard.rows, columns: source.dimension)
        meanBuffer = try engine.tensor(rows: 1, columns: 1)
    }

    /// Enqueues one training step.
    public func trainStep() throws(OpenCLError) {
        try computeGradients()
        try applyUpdate()
    }

    /// The first half of a step: this step's batch (this trainer's shard of it) and its gradients. A data-parallel
    /// step reduces the replicas' gradients between the halves.
    public func computeGradients() throws(OpenCLError) {
        try source.fill(x0, step: step, firstRow: objective.shard.firstRow)
        lastPerSample = try objective.computeGradients(x0: x0, step: step)
    }

    /// The second half of a step: the optimizer and EMA updates from the gradients in `model.parameters`.
    public func applyUpdate() throws(OpenCLError) {
        try optimizer.update(lr: learningRate)
        try ema?.update()
        step += 1
    }

    /// The learning rate of the next step's update.
    public var learningRate: Float { config.schedule.rate(base: config.learningRate, at: step) }

    /// The mean loss of the latest step (a host read: waits for the device).
    public func meanLoss() throws(OpenCLError) -> Float {
        guard let perSample = lastPerSample else { return .nan }
        try engine.columnSums(perSample, alpha: 1 / Float(perSample.rows), into: meanBuffer)
        return try meanBuffer.download()[0]
    }

    /// Everything a resumed run needs to continue exactly: the step, parameters, EMA and optimizer moments
    /// (random numbers and batches are keyed by the step, so nothing else carries state).
    public struct State {
        public var step: Int
        public var parameters: [Float]
        public var ema: [Float]?
        public var emaUpdates: Int
        public var firstMoment: [Float]
        public var secondMoment: [Float]
        public var optimizerStep: Int

        public init(step: Int, parameters: [Float], ema: [Float]?, emaUpdates: Int, firstMoment: [Float], secondMoment: [Float],
                    optimizerStep: Int) {
            self.step = step; self.parameters = parameters; self.ema = ema; self.emaUpdates = emaUpdates
            self.firstMoment = firstMoment; self.secondMoment = secondMoment; self.optimizerStep = optimizerStep
        }
    }

    /// The current state (host reads).
    public func state() throws(OpenCLError) -> State {
        State(step: step, parameters: try model.parameters.values.download(), ema: try ema?.values.download(),
              emaUpdates: ema?.updates ?? 0, firstMoment: try optimizer.firstMoment.download(),
              secondMoment: try optimizer.secondMoment.download(), optimizerStep: optimizer.step)
    }

    /// Continues from `state` (as saved by `state()` on a trainer of the same configuration).
    public func restore(_ state: State) throws(OpenCLError) {
        try model.parameters.values.upload(state.parameters)
        if let ema, let values = state.ema { try ema.restore(values: values, updates: state.emaUpdates) }
        try optimizer.restore(step: state.optimizerStep, firstMoment: state.firstMoment, secondMoment: state.secondMoment)
        step = state.step
    }

    /// The global gradient norm of the latest step, before clipping (a host read).
    public func gradientNorm() throws(OpenCLError) -> Float { try optimizer.gradientNorm() }
}
