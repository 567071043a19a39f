import OpenCLKit

/// Shape of a time-conditioned residual MLP (`ResidualMLP`).
public struct ResidualMLPConfig: Sendable, Equatable, Codable {
    /// Input columns (a denoiser's `[z, emb(t)]`).
    public var inputs: Int
    public var width: Int
    /// Residual blocks.
    public var blocks: Int
    public var outputs: Int
    public var activation: Activation
    /// F of the time MLP's sinusoidal input emb(t) (2F features), and the multiplier of t inside it.
    public var frequencies: Int
    public var timeScale: Float
    /// Times per sample the time MLP embeds (1: t; 2: MeanFlow's (r, t) or a shortcut model's (t, step)).
    public var times: Int
    /// Features of a learned loss weighting carried with the parameters (0: none; see `TimeConditioning`).
    public var weighting: Int

    public init(inputs: Int, width: Int, blocks: Int, outputs: Int, activation: Activation = .silu, frequencies: Int = 8,
                timeScale: Float = 1000, times: Int = 1, weighting: Int = 0) {
        self.inputs = inputs; self.width = width; self.blocks = blocks; self.outputs = outputs; self.activation = activation
        self.frequencies = frequencies; self.timeScale = timeScale; self.times = times; self.weighting = weighting
    }
}

/// A residual MLP conditioned on time in every block (the `resmlp` denoiser):
///
///     c = time.2(act(time.1(act(time.0(emb(t))))))        every block's FiLM (scale, shift), 2 x width each
///     h = input(x)
///     h = blocks.B(h)   for B = 0 ..< blocks              h + fc2(act(fc1(LN(h) * (1 + scale_B) + shift_B)))
///     y = output(act(LN(h)))
///
/// The blocks' fc2 start at zero, so the network starts as input -> output (adaLN-zero, Peebles & Xie 2023).
/// One product makes all blocks' modulations: block B reads columns [2 B width, 2 (B + 1) width) of c.
/// Tensor names, all `inputs x outputs` weights and `1 x outputs` biases: `time.{0,1,2}`, `input`,
/// `blocks.B.fc1`, `blocks.B.fc2`, `output` (each `.weight`, `.bias`).
public final class ResidualMLP: Network {
    public let engine: Engine
    public let config: ResidualMLPConfig
    public let parameters: ParameterStore
    let time: TimeConditioning
    let input: Linear
    let blocks: [ResidualBlock]
    let finalNorm: GroupNorm
    let output: Linear
    public var inputs: Int { config.inputs }
    public var outputs: Int { config.outputs }

    public init(engine: Engine, config: ResidualMLPConfig, seed: UInt64) throws(OpenCLError) {
        guard config.inputs > 0, config.width > 0, config.blocks > 0, config.outputs > 0, config.frequencies > 0,
              config.times > 0 else {
            throw .invalidRequest("resmlp needs positive sizes (got inputs \(config.inputs), width \(config.width), "
                                  + "blocks \(config.blocks), outputs \(config.outputs))")
        }
        self.engine = engine
        self.config = config
        let (w, act) = (config.width, config.activation)
        var layout = ParameterLayout()
        time = TimeConditioning(width: w, outputs: 2 * w * config.blocks, frequencies: config.frequencies,
                                timeScale: config.timeScale, times: config.times, weighting: config.weighting, activation: act, layout: &layout)
        input = Linear("input", inputs: config.inputs, outputs: w, layout: &layout)
        blocks = (0 ..< config.blocks).map { b in
            ResidualBlock("blocks.\(b)", width: w, hidden: w, activation: act, modulationColumn: 2 * w * b, layout: &layout)
        }
        finalNorm = GroupNorm.layerNorm(features: w, activation: act)
        output = Linear("output", inputs: w, outputs: config.outputs, layout: &layout)
        parameters = try ParameterStore(engine: engine, layout: layout, seed: seed)
    }

    public func forward(_ x: Tensor, time t: Tensor?, tape: Tape) throws(OpenCLError) -> Tensor {
        try time.condition(t, input: x, inputs: config.inputs, network: "resmlp", tape: tape)
        var h = try input.forward(x, tape: tape)
        for block in blocks { h = try block.forward(h, tape: tape) }
        return try output.forward(finalNorm.forward(h, tape: tape), tape: tape)
    }
}

extension Reference {
    /// The resmlp forward in float64 from named parameters, for `input` (batch x inputs) at times `t` (batch x times).
    public static func residualMLPForward(_ config: ResidualMLPConfig, parameters p: [String: [Double]], input: [Double],
                                          t: [Float], batch: Int) -> [Double] {
        let (w, act) = (config.width, config.activation)
        func linear(_ x: [Double], _ name: String, _ inputs: Int, _ outputs: Int, _ activation: Activation = .identity) -> [Double] {
            Reference.linear(x, batch: batch, inputs: inputs, outputs: outputs, weight: p[name + ".weight"]!, bias: p[name + ".bias"]!,
                             activation: activation)
        }
        let embedding = timeEmbedding(t, frequencies: config.frequencies, scale: config.timeScale).map(Double.init)
        let c = linear(linear(linear(embedding, "time.0", 2 * config.frequencies * config.times, w, act), "time.1", w, w, act),
                       "time.2", w, 2 * w * config.blocks)
        var h = linear(input, "input", config.inputs, w)
        for b in 0 ..< config.blocks {
            var scale = [Double](), shift = [Double]()
            for r in 0 ..< batch {
                let row = r * 2 * w * config.blocks + 2 * w * b
                scale += c[row ..< row + w]
                shift += c[row + w ..< row + 2 * w]
            }
            let n = layerNorm(h, rows: batch, columns: w, scale: scale, shift: shift).y
            let branch = linear(linear(n, "blocks.\(b).fc1", w, w, act), "blocks.\(b).fc2", w, w)
            h = zip(h, branch).map { $0 + $1 }
        }
        return linear(layerNorm(h, rows: batch, columns: w, activation: act).y, "output", w, config.outputs)
    }
}
