import OpenCLKit
import StepLabEngine

/// The network families a denoiser can be built from.
public enum NetworkArchitecture: String, Sendable, Codable, CaseIterable {
    /// A plain MLP on `[z, emb(t)]`, time entering at the input only (`MLP`).
    case mlp
    /// A residual MLP on `[z, emb(t)]` whose every block is FiLM-conditioned on t (`ResidualMLP`).
    case resmlp
    /// A U-Net on images whose every residual block is FiLM-conditioned on t (`UNet`).
    case unet
    /// A diffusion transformer on image patches whose every LayerNorm is FiLM-conditioned on t (`DiT`).
    case dit
}

/// The network every method trains: a network on `[z, emb(t)]` (the sinusoidal embedding of
/// `Engine.networkInput`) that outputs a d-dimensional prediction.
public struct DenoiserConfig: Sendable, Equatable, Codable {
    /// Data dimension d.
    public var dimension: Int
    public var architecture: NetworkArchitecture
    /// F: the embedding has 2F features (sin and cos).
    public var frequencies: Int = 8
    public var width: Int = 256
    /// Hidden layers of an `mlp`.
    public var depth: Int = 3
    /// Residual blocks of a `resmlp`.
    public var blocks: Int = 3
    public var activation: Activation = .silu
    /// What the output means on the VP schedule; `predictX` converts it to an x-prediction. Neither choice
    /// won everywhere in our measurements (see the README), so callers that care pin it.
    public var prediction: Prediction = .v
    /// t is multiplied by this before the sinusoidal embedding. 1000 is DDPM's step-index convention (and the
    /// reference workload's); it makes the highest frequencies swing 1000 rad over t in [0, 1], which a small MLP
    /// learns through slowly.
    public var timeScale: Float = 1000
    /// The images and levels of a `unet`.
    public var unet: UNetShape?
    /// The images, patches and heads of a `dit` (its width is `width`, its depth `blocks`).
    public var dit: DiTShape?
    /// Times per sample the network's time MLP embeds (nil: one, t). MeanFlow's (r, t) and a shortcut model's
    /// (t, step size) are two; the network input `[z, emb(t)]` carries the first.
    public var timeInputs: Int?
    /// Features of the learned loss weighting w(t) the parameters carry (nil: none; sCM's w_phi, see `TimeConditioning`).
    public var weighting: Int?

    public init(dimension: Int, architecture: NetworkArchitecture = .mlp, frequencies: Int = 8, width: Int = 256, depth: Int = 3,
                blocks: Int = 3, activation: Activation = .silu, prediction: Prediction = .v, timeScale: Float = 1000,
                unet: UNetShape? = nil, dit: DiTShape? = nil, timeInputs: Int? = nil, weighting: Int? = nil) {
        self.dimension = dimension; self.architecture = architecture; self.frequencies = frequencies; self.width = width
        self.depth = depth; self.blocks = blocks; self.activation = activation; self.prediction = prediction; self.timeScale = timeScale
        self.unet = unet; self.dit = dit; self.timeInputs = timeInputs; self.weighting = weighting
    }

    /// Columns of the network input `[z, emb(t)]`.
    public var inputs: Int { dimension + 2 * frequencies }

    public var mlp: MLPConfig {
        MLPConfig(inputs: inputs, width: width, depth: depth, outputs: dimension, activation: activation)
    }

    public var resmlp: ResidualMLPConfig {
        ResidualMLPConfig(inputs: inputs, width: width, blocks: blocks, outputs: dimension, activation: activation,
                          frequencies: frequencies, timeScale: timeScale, times: timeInputs ?? 1, weighting: weighting ?? 0)
    }

    /// The dit's configuration (nil without a `dit` shape).
    public var ditConfig: DiTConfig? {
        dit.map { DiTConfig(shape: $0, inputs: inputs, width: width, blocks: blocks, activation: activation, frequencies: frequencies,
                            timeScale: timeScale, times: timeInputs ?? 1, weighting: weighting ?? 0) }
    }

    /// The unet's configuration (nil without a `unet` shape).
    public var unetConfig: UNetConfig? {
        unet.map { UNetConfig(shape: $0, inputs: inputs, activation: activation, frequencies: frequencies, timeScale: timeScale,
                              times: timeInputs ?? 1, weighting: weighting ?? 0) }
    }

    /// The architecture in words (`resmlp 256x3 blocks`), for logs and errors.
    public var summary: String {
        switch architecture {
        case .mlp: "mlp \(width)x\(depth)"
        case .resmlp: "resmlp \(width)x\(blocks) blocks"
        case .unet: unet?.summary ?? "unet"
        case .dit: (dit?.summary).map { "\($0), width \(width)x\(blocks) blocks" } ?? "dit"
        }
    }
}

/// A denoiser f(z, t) on the device.
public final class Denoiser {
    public let config: DenoiserConfig
    public let network: any Network
    public var engine: Engine { network.engine }
    public var parameters: ParameterStore { network.parameters }

    public init(engine: Engine, config: DenoiserConfig, seed: UInt64) throws(OpenCLError) {
        self.config = config
        switch config.architecture {
        case .mlp:
            guard (config.weighting ?? 0) == 0 else { throw .invalidRequest("mlp has no time MLP to carry a loss weighting: use resmlp") }
            guard (config.timeInputs ?? 1) == 1 else {
                throw .invalidRequest("mlp reads one time at its input; \(config.timeInputs ?? 1) times need resmlp or unet")
            }
            network = try MLP(engine: engine, config: config.mlp, seed: seed)
        case .resmlp: network = try ResidualMLP(engine: engine, config: config.resmlp, seed: seed)
        case .unet:
            guard let unet = config.unetConfig else { throw .invalidRequest("a unet denoiser needs its image shape") }
            network = try UNet(engine: engine, config: unet, seed: seed)
        case .dit:
            guard let dit = config.ditConfig else { throw .invalidRequest("a dit denoiser needs its image shape") }
            network = try DiT(engine: engine, config: dit, seed: seed)
        }
    }

    /// A tape for one call site (its arena follows the batch size).
    public func makeTape() -> Tape { network.makeTape() }

    /// Begins a pass on `tape` and returns the network output for noisy points `z` (batch x d) at times `t`
    /// (batch x 1), with the live parameters or `parameters` (an EMA copy, same layout); `recording` keeps what
    /// `backward` needs.
    @discardableResult
    public func run(_ z: Tensor, t: Tensor, tape: Tape, parameters: Tensor? = nil, recording: Bool = true) throws(OpenCLError) -> Tensor {
        try tape.begin(batch: z.rows, parameters: parameters, recording: recording)
        return try forward(z, t: t, tape: tape)
    }

    /// The network output for `z` at `t` within the pass already begun on `tape`.
    public func forward(_ z: Tensor, t: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        let input = try tape.allocate(columns: config.inputs)
        try engine.networkInput(z, t: t, scale: config.timeScale, into: input)
        return try forward(networkInput: input, t: t, tape: tape)
    }

    /// The network output for a network input `[z, emb(t)]` already written (by a fused batch kernel) in the
    /// pass begun on `tape`.
    public func forward(networkInput input: Tensor, t: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        try network.forward(input, time: t, tape: tape)
    }

    /// The x-prediction at (`z`, `t`) on the VP schedule, written to `xhat`, in a new pass on `tape`.
    public func predictX(_ z: Tensor, t: Tensor, tape: Tape, parameters: Tensor? = nil, clip: Float = 0, recording: Bool = true,
                         into xhat: Tensor) throws(OpenCLError) {
        let output = try run(z, t: t, tape: tape, parameters: parameters, recording: recording)
        try engine.predictionToX(config.prediction, output: output, z: z, t: t, clip: clip, into: xhat)
    }

    /// Adds dL/dθ for dL/d(output) of the last recorded pass on `tape` into the parameter gradients.
    public func backward(outputGradient: Tensor, tape: Tape) throws(OpenCLError) {
        try network.backward(outputGradient, tape: tape)
    }
}
