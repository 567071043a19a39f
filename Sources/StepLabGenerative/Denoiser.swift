import OpenCLKit
import StepLabEngine

/// The network every method trains: an MLP on `[z, emb(t)]` (the sinusoidal embedding of `Engine.networkInput`)
/// that outputs a d-dimensional prediction.
public struct DenoiserConfig: Sendable, Equatable, Codable {
    /// Data dimension d.
    public var dimension: Int
    /// F: the embedding has 2F features (sin and cos).
    public var frequencies: Int = 8
    public var width: Int = 256
    /// Hidden layers.
    public var depth: Int = 3
    public var activation: Activation = .silu
    /// What the output means on the VP schedule; `predictX` converts it to an x-prediction. Neither choice
    /// won everywhere in our measurements (see the README), so callers that care pin it.
    public var prediction: Prediction = .v
    /// t is multiplied by this before the sinusoidal embedding. 1000 is DDPM's step-index convention (and the
    /// reference workload's); it makes the highest frequencies swing 1000 rad over t in [0, 1], which a small MLP
    /// learns through slowly.
    public var timeScale: Float = 1000

    public init(dimension: Int, frequencies: Int = 8, width: Int = 256, depth: Int = 3, activation: Activation = .silu,
                prediction: Prediction = .v, timeScale: Float = 1000) {
        self.dimension = dimension; self.frequencies = frequencies; self.width = width; self.depth = depth
        self.activation = activation; self.prediction = prediction; self.timeScale = timeScale
    }

    public var mlp: MLPConfig {
        MLPConfig(inputs: dimension + 2 * frequencies, width: width, depth: depth, outputs: dimension, activation: activation)
    }
}

/// Buffers for one call site of `Denoiser.forward` at a fixed batch size.
public final class DenoiserWorkspace {
    public let input: Tensor
    public let network: MLPWorkspace
    init(input: Tensor, network: MLPWorkspace) { self.input = input; self.network = network }
    /// The raw network output of the last forward.
    public var output: Tensor { network.output }
}

/// An MLP denoiser f(z, t) on the device.
public final class Denoiser {
    public let config: DenoiserConfig
    public let network: MLP
    public var engine: Engine { network.engine }

    public init(engine: Engine, config: DenoiserConfig, seed: UInt64) throws(OpenCLError) {
        self.config = config
        network = try MLP(engine: engine, config: config.mlp, seed: seed)
    }

    public func makeWorkspace(batch: Int) throws(OpenCLError) -> DenoiserWorkspace {
        try DenoiserWorkspace(input: engine.tensor(rows: batch, columns: config.mlp.inputs),
                              network: network.makeWorkspace(batch: batch))
    }

    /// The network output for noisy points `z` (batch x d) at times `t` (batch x 1), with the live parameters
    /// or `parameters` (an EMA copy, same layout).
    @discardableResult
    public func forward(_ z: Tensor, t: Tensor, workspace: DenoiserWorkspace, parameters: Tensor? = nil) throws(OpenCLError) -> Tensor {
        try engine.networkInput(z, t: t, scale: config.timeScale, into: workspace.input)
        return try network.forward(workspace.input, workspace: workspace.network, parameters: parameters)
    }

    /// The x-prediction at (`z`, `t`) on the VP schedule, written to `xhat` (the raw output stays in the
    /// workspace for `backward`).
    public func predictX(_ z: Tensor, t: Tensor, workspace: DenoiserWorkspace, parameters: Tensor? = nil, clip: Float = 0,
                         into xhat: Tensor) throws(OpenCLError) {
        let output = try forward(z, t: t, workspace: workspace, parameters: parameters)
        try engine.predictionToX(config.prediction, output: output, z: z, t: t, clip: clip, into: xhat)
    }

    /// Backpropagates dL/d(output) of the last `forward` on `workspace` into the parameter gradients.
    public func backward(outputGradient: Tensor, workspace: DenoiserWorkspace) throws(OpenCLError) {
        try network.backward(outputGradient: outputGradient, workspace: workspace.network)
    }
}
