import OpenCLKit
import StepLabEngine

/// A sampler that `steplab sample --sampler NAME` and the study run on a trained model: its name and how it draws.
/// A method lists the samplers that fit its model (`TrainingMethod.samplers`); a new sampler is one more value here.
public struct ModelSampler: Sendable {
    /// What one draw needs.
    public struct Request {
        public var model: Denoiser
        /// Standard normal rows, n x d: the starting noise.
        public var noise: Tensor
        public var steps: Int
        /// Draws the fresh noise a consistency sampler adds between its steps.
        public var key: RandomKey
        /// ddim and addim: each step's x-prediction clamped to [-clip, clip] in the model's units (0: none).
        public var clip: Float
        /// Weights to sample with instead of the model's own (the EMA's); nil: the model's.
        public var parameters: Tensor?

        public init(model: Denoiser, noise: Tensor, steps: Int, key: RandomKey, clip: Float = 0, parameters: Tensor? = nil) {
            self.model = model; self.noise = noise; self.steps = steps; self.key = key; self.clip = clip; self.parameters = parameters
        }
    }

    /// The CLI's `--sampler` value.
    public let name: String
    let body: @Sendable (Request) throws -> (samples: Tensor, evaluations: Double)

    public init(name: String, body: @escaping @Sendable (Request) throws -> (samples: Tensor, evaluations: Double)) {
        self.name = name; self.body = body
    }

    /// Samples for `request`, with the mean network evaluations per sample.
    public func draw(_ request: Request) throws -> (samples: Tensor, evaluations: Double) { try body(request) }

    /// DDIM on the VP schedule.
    public static let ddim = vp(.ddim)
    /// DDIM with the analytic second-moment correction (MCM's aDDIM).
    public static let addim = vp(.addim)

    static func vp(_ update: VPSampler.Update) -> ModelSampler {
        ModelSampler(name: update.rawValue) { r in
            (try VPSampler(model: r.model).sample(noise: r.noise, steps: r.steps, update: update, parameters: r.parameters, clip: r.clip),
             Double(r.steps))
        }
    }

    /// DDIM that stops a row once its x-prediction has settled.
    public static let earlyExit = ModelSampler(name: "early-exit") { r in
        let result = try VPSampler(model: r.model).sampleEarlyExit(noise: r.noise, steps: r.steps, parameters: r.parameters)
        return (result.samples, result.meanEvaluations)
    }

    /// The EDM probability-flow ODE (no boundary condition): Euler or Heun.
    public static let euler = edm(.euler), heun = edm(.heun)

    static func edm(_ solver: EDMSampler.Solver) -> ModelSampler {
        ModelSampler(name: solver.rawValue) { r in
            let model = EDMModel(network: r.model, config: EDMConfig(), boundary: false)
            let result = try EDMSampler(model: model).sample(noise: r.noise, steps: r.steps, solver: solver, parameters: r.parameters)
            return (result.samples, Double(result.evaluations))
        }
    }

    /// A consistency model with the boundary condition (ct, cd, ect): jump to the data, renoise, repeat.
    public static let consistency = ModelSampler(name: "cm") { r in
        let model = EDMModel(network: r.model, config: EDMConfig(), boundary: true)
        return (try EDMSampler(model: model).sampleConsistency(noise: r.noise, steps: r.steps, key: r.key, parameters: r.parameters),
                Double(r.steps))
    }

    /// sCM in TrigFlow: one jump from sigma_max, two at the paper's t = 1.1 (`SCMConfig.samplingSigmas`).
    public static let scm = ModelSampler(name: "scm") { r in
        // The sampling times do not depend on the run's length, only the training's warm-up does.
        let config = SCMConfig(totalIterations: 0)
        let model = EDMModel(network: r.model, config: config.edm, boundary: false)
        return (try EDMSampler(model: model).sampleConsistency(noise: r.noise, sigmas: config.samplingSigmas(steps: r.steps), key: r.key,
                                                               parameters: r.parameters),
                Double(r.steps))
    }

    /// Jumps of an average-velocity model (MeanFlow) or a step-conditioned one (shortcut) along the flow.
    public static let meanflow = flowJump("meanflow"), shortcut = flowJump("shortcut")

    static func flowJump(_ name: String) -> ModelSampler {
        ModelSampler(name: name) { r in
            (try FlowJumpSampler(model: r.model).sample(noise: r.noise, steps: r.steps, parameters: r.parameters), Double(r.steps))
        }
    }
}
