import OpenCLKit
import StepLabEngine

/// Continuous-time consistency training (sCT), or distillation (sCD) with an EDM `teacher`, in TrigFlow (`SCMConfig`,
/// `Kernels/scm.cl`). One step: the network and its time derivative along the flow in one JVP pass (recorded for the
/// backward), the normalised tangent g with its warm-up, and the adaptively weighted loss
///   e^w(t) / d ||F - sg(F) - g||^2 - w(t),
/// whose gradient is that of a regression onto F - g (the paper's Algorithm 1); w's gradient is closed-form.
public final class SCMObjective: TrainingObjective {
    public let model: Denoiser
    public let config: SCMConfig
    /// The sCD teacher: an EDM diffusion denoiser (nil: sCT, the flow from the data and noise).
    public let teacher: EDMModel?
    public let key: RandomKey
    public let shard: BatchShard
    let sigma, times, timesTangent, noisy, velocity, input, inputTangent, features, weight, weightGradient, perSample, gradient: Tensor
    let weightingWeight, weightingBias: ParameterStore.Entry
    let tape: Tape
    let teacherTape: Tape?

    public init(model: Denoiser, config: SCMConfig, teacher: Denoiser? = nil, batch: Int, seed: UInt64,
                firstRow: Int = 0) throws(OpenCLError) {
        let entries = model.parameters.entries
        guard model.config.weighting == SCMConfig.weightingFeatures, (model.config.timeInputs ?? 1) == 1,
              let a = entries.first(where: { $0.name == "weighting.weight" }), let b = entries.first(where: { $0.name == "weighting.bias" }) else {
            throw .invalidRequest("scm needs a network on one time that carries the \(SCMConfig.weightingFeatures)-feature loss weighting "
                                  + "(DenoiserConfig.weighting)")
        }
        let engine = model.engine, d = model.config.dimension
        self.model = model
        self.config = config
        self.teacher = teacher.map { EDMModel(network: $0, config: config.edm, boundary: false) }
        key = RandomKey(seed: seed)
        shard = BatchShard(firstRow: firstRow, rows: batch)
        (weightingWeight, weightingBias) = (a, b)
        func column() throws(OpenCLError) -> Tensor { try engine.tensor(rows: batch, columns: 1) }
        sigma = try column(); times = try column(); weight = try column(); weightGradient = try column(); perSample = try column()
        // d(ln sigma / 4)/dt = 1 / (4 sin t cos t), scaled by sin t cos t as the input's tangent is.
        timesTangent = try engine.tensor(filled: 0.25, rows: batch, columns: 1)
        noisy = try engine.tensor(rows: batch, columns: d)
        velocity = try engine.tensor(rows: batch, columns: d)
        gradient = try engine.tensor(rows: batch, columns: d)
        input = try engine.tensor(rows: batch, columns: model.config.inputs)
        inputTangent = try engine.tensor(rows: batch, columns: model.config.inputs)
        features = try engine.tensor(rows: batch, columns: SCMConfig.weightingFeatures)
        tape = model.makeTape()
        teacherTape = self.teacher?.makeTape()
    }

    public func computeGradients(x0: Tensor, step: Int) throws(OpenCLError) -> Tensor {
        let engine = model.engine, counter = UInt64(step), parameters = model.parameters
        try parameters.zeroGradients(engine: engine)
        try engine.scmBatch(config, x: x0, timeKey: shard.rowKey(RandomKey(seed: key.seed, stream: .scmSigma, counter: counter)),
                            noiseKey: shard.elementKey(RandomKey(seed: key.seed, stream: .scmNoise, counter: counter), columns: x0.columns),
                            scale: model.config.timeScale, sigma: sigma, times: times, noisy: noisy, velocity: velocity, input: input,
                            inputTangent: inputTangent, features: features)
        if let teacher, let teacherTape {
            let net = try teacher.networkOutput(noisy, sigma: sigma, tape: teacherTape)
            try engine.scmTeacherFlow(sigmaData: config.edm.sigmaData, teacherOutput: net, sigma: sigma, velocity: velocity,
                                      inputTangent: inputTangent)
        }
        let (net, derivative) = try model.network.jvp(input, tangent: inputTangent, time: times, timeTangent: timesTangent, tape: tape,
                                                      recording: true)
        let (a, b) = (try parameters.view(weightingWeight, in: parameters.values), try parameters.view(weightingBias, in: parameters.values))
        try engine.matmul(features, a, into: weight, epilogue: .biasActivation(bias: b, activation: .identity, preActivation: nil))
        try engine.scmLoss(config, warm: config.warm(at: step), output: net, derivative: derivative, noisy: noisy, velocity: velocity,
                           sigma: sigma, weight: weight, perSample: perSample, gradient: gradient, weightGradient: weightGradient)
        try model.network.backward(gradient, tape: tape)
        try engine.matmul(features, transposeA: true, weightGradient, into: parameters.view(weightingWeight, in: parameters.gradients))
        try engine.columnSums(weightGradient, into: parameters.view(weightingBias, in: parameters.gradients))
        return perSample
    }
}
