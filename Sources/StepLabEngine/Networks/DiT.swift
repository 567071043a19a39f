import Foundation
import OpenCLKit

/// A DiT network's shape and its time conditioning.
public struct DiTConfig: Sendable, Equatable {
    public var shape: DiTShape
    /// Columns of the network input; the first `shape.dimension` are the image (a denoiser's `[z, emb(t)]` carries
    /// emb(t) after it, which the DiT does not read: it embeds t itself).
    public var inputs: Int
    /// D, the token width, and the blocks.
    public var width: Int
    public var blocks: Int
    public var activation: Activation
    public var frequencies: Int
    public var timeScale: Float
    /// Times per sample the time MLP embeds (see `TimeConditioning`).
    public var times: Int
    /// Features of a learned loss weighting carried with the parameters (0: none; see `TimeConditioning`).
    public var weighting: Int

    public init(shape: DiTShape, inputs: Int? = nil, width: Int, blocks: Int, activation: Activation = .silu, frequencies: Int = 8,
                timeScale: Float = 1000, times: Int = 1, weighting: Int = 0) {
        self.shape = shape; self.inputs = inputs ?? shape.dimension; self.width = width; self.blocks = blocks
        self.activation = activation; self.frequencies = frequencies; self.timeScale = timeScale; self.times = times
        self.weighting = weighting
    }
}

/// A diffusion transformer (DiT, Peebles & Xie 2023) on NHWC images, small enough for a CPU:
///
///     c = time.2(act(time.1(act(time.0(emb(t))))))           every norm's FiLM (scale, shift), in the order below
///     h = embed(patches(x)) + pos                             P x P patches -> D; pos the fixed 2-D sin-cos embedding
///     for block b:  h = h + proj(attend(qkv(LN(h) (1 + s1) + b1)))          (D -> 3D, heads, D -> D)
///                   h = h + fc2(act(fc1(LN(h) (1 + s2) + b2)))              (D -> 4D -> D)
///     y = join(output(LN(h) (1 + s) + b))                     D -> P P c, back into images
///
/// Each LayerNorm normalises one token and is modulated by its image's row of c (adaLN). DiT's adaLN-zero also
/// gates each branch by a learned per-sample scale; here, as in `ResidualBlock`, the branch's last layer and the
/// output start at zero instead, so every block starts as the identity and the network outputs zero. Tensor
/// names: `time.{0,1,2}`, `embed`, `blocks.b.{qkv,proj,fc1,fc2}`, `output` (each `.weight`, `.bias`; see `Linear`).
/// The positional embedding of token (i, j) is [sin(i w_k), cos(i w_k), sin(j w_k), cos(j w_k)], w_k =
/// 10000^(-k / (D / 4)), k < D / 4.
public final class DiT: Network {
    public let engine: Engine
    public let config: DiTConfig
    public let parameters: ParameterStore
    let time: TimeConditioning
    let patches: Patchify
    let embed: Linear
    let blocks: [Block]
    let finalNorm: GroupNorm
    let output: Linear
    /// The positional embedding tiled over the last batch size (a constant the embedding's product adds).
    private var positional: Tensor?
    public var inputs: Int { config.inputs }
    public var outputs: Int { config.shape.dimension }

    public init(engine: Engine, config: DiTConfig, seed: UInt64) throws(OpenCLError) {
        let s = config.shape, d = config.width
        if let problem = s.problem(modelWidth: d) { throw .invalidRequest("dit: \(problem)") }
        guard config.inputs >= s.dimension, config.blocks > 0, config.frequencies > 0, config.times > 0 else {
            throw .invalidRequest("dit needs positive blocks and an input of at least \(s.dimension) columns (got \(config.inputs))")
        }
        self.engine = engine
        self.config = config
        let tokens = s.patches.tokens, act = config.activation
        var layout = ParameterLayout()
        var film = 0
        func norm() -> GroupNorm {
            defer { film += 2 * d }
            return GroupNorm.layerNorm(features: d, modulationColumn: film)
        }
        patches = Patchify(geometry: s.patches)
        embed = Linear("embed", inputs: s.patches.tokenSize, outputs: d, layout: &layout)
        blocks = (0 ..< config.blocks).map { b in
            Block("blocks.\(b)", width: d, tokens: tokens, heads: s.heads, activation: act, norms: (norm(), norm()), layout: &layout)
        }
        finalNorm = norm()
        output = Linear("output", inputs: d, outputs: s.patches.tokenSize, zeroInitialised: true, layout: &layout)
        time = TimeConditioning(width: d, outputs: film, frequencies: config.frequencies, timeScale: config.timeScale,
                                times: config.times, weighting: config.weighting, activation: act, layout: &layout)
        parameters = try ParameterStore(engine: engine, layout: layout, seed: seed)
    }

    public func forward(_ x: Tensor, time t: Tensor?, tape: Tape) throws(OpenCLError) -> Tensor {
        try time.condition(t, input: x, inputs: config.inputs, network: "dit", tape: tape)
        var h = try embed.forward(patches.split(x, tape: tape), adding: positionalEmbedding(batch: tape.batch), tape: tape)
        for block in blocks { h = try block.forward(h, tape: tape) }
        return try patches.join(output.forward(finalNorm.forward(h, tape: tape), tape: tape), tape: tape)
    }

    /// `Reference.ditPositions` tiled over `batch` images, uploaded once per batch size.
    private func positionalEmbedding(batch: Int) throws(OpenCLError) -> Tensor {
        let tokens = config.shape.patches.tokens
        if let positional, positional.rows == batch * tokens { return positional }
        let rows = Reference.ditPositions(config.shape, width: config.width).map(Float.init)
        let tiled = try engine.tensor(Array((0 ..< batch).map { _ in rows }.joined()), rows: batch * tokens, columns: config.width)
        positional = tiled
        return tiled
    }

    /// One transformer block: attention then the MLP, each on its own modulated LayerNorm, each added to the stream.
    final class Block: Layer {
        let norm1: GroupNorm, norm2: GroupNorm
        let qkv: Linear, proj: Linear, fc1: Linear, fc2: Linear
        let attention: SelfAttention

        init(_ name: String, width d: Int, tokens: Int, heads: Int, activation: Activation, norms: (GroupNorm, GroupNorm),
             layout: inout ParameterLayout) {
            (norm1, norm2) = norms
            qkv = Linear(name + ".qkv", inputs: d, outputs: 3 * d, layout: &layout)
            proj = Linear(name + ".proj", inputs: d, outputs: d, zeroInitialised: true, layout: &layout)
            fc1 = Linear(name + ".fc1", inputs: d, outputs: 4 * d, activation: activation, layout: &layout)
            fc2 = Linear(name + ".fc2", inputs: 4 * d, outputs: d, zeroInitialised: true, layout: &layout)
            attention = SelfAttention(tokens: tokens, heads: heads)
        }

        func forward(_ h: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
            let attended = try attention.forward(qkv.forward(norm1.forward(h, tape: tape), tape: tape), tape: tape)
            let mid = try proj.forward(attended, adding: h, tape: tape)
            return try fc2.forward(fc1.forward(norm2.forward(mid, tape: tape), tape: tape), adding: mid, tape: tape)
        }
    }
}

extension Reference {
    /// The DiT's fixed positional embedding in float64, tokens x D (see `DiT`).
    public static func ditPositions(_ shape: DiTShape, width d: Int) -> [Double] {
        let across = shape.width / shape.patch, quarter = d / 4
        return (0 ..< shape.patches.tokens).flatMap { k -> [Double] in
            let (i, j) = (Double(k / across), Double(k % across))
            let w = (0 ..< quarter).map { pow(10000, -Double($0) / Double(quarter)) }
            return w.map { sin(i * $0) } + w.map { cos(i * $0) } + w.map { sin(j * $0) } + w.map { cos(j * $0) }
        }
    }

    /// The DiT forward in float64 from named parameters, for `input` (batch x inputs, the image first) at times `t`.
    public static func ditForward(_ config: DiTConfig, parameters p: [String: [Double]], input: [Double], t: [Float],
                                  batch: Int) -> [Double] {
        let s = config.shape, d = config.width, act = config.activation, g = s.patches, tokens = g.tokens
        func linear(_ x: [Double], _ name: String, _ inputs: Int, _ outputs: Int, _ activation: Activation = .identity) -> [Double] {
            Reference.linear(x, batch: x.count / inputs, inputs: inputs, outputs: outputs, weight: p[name + ".weight"]!,
                             bias: p[name + ".bias"]!, activation: activation)
        }
        let embedding = timeEmbedding(t, frequencies: config.frequencies, scale: config.timeScale).map(Double.init)
        let film = p["time.2.bias"]!.count
        let c = linear(linear(linear(embedding, "time.0", 2 * config.frequencies * config.times, d, act), "time.1", d, d, act),
                       "time.2", d, film)
        var column = 0
        func norm(_ x: [Double]) -> [Double] {
            var scale = [Double](), shift = [Double]()
            for n in 0 ..< batch {
                for _ in 0 ..< tokens {
                    scale += c[n * film + column ..< n * film + column + d]
                    shift += c[n * film + column + d ..< n * film + column + 2 * d]
                }
            }
            column += 2 * d
            return layerNorm(x, rows: batch * tokens, columns: d, scale: scale, shift: shift).y
        }
        let positions = ditPositions(s, width: d)
        var h = zip(linear(splitPatches(input, stride: config.inputs, geometry: g), "embed", g.tokenSize, d),
                    (0 ..< batch).flatMap { _ in positions }).map { $0 + $1 }
        for b in 0 ..< config.blocks {
            let qkv = linear(norm(h), "blocks.\(b).qkv", d, 3 * d)
            let attended = attention(qkv, tokens: tokens, channels: d, heads: s.heads).output
            h = zip(h, linear(attended, "blocks.\(b).proj", d, d)).map { $0 + $1 }
            h = zip(h, linear(linear(norm(h), "blocks.\(b).fc1", d, 4 * d, act), "blocks.\(b).fc2", 4 * d, d)).map { $0 + $1 }
        }
        return joinPatches(linear(norm(h), "output", d, g.tokenSize), geometry: g)
    }
}
