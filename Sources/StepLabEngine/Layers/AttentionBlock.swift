import OpenCLKit

/// Self-attention over the pixels of each image with a residual connection (ADM's AttentionBlock, Dhariwal &
/// Nichol 2021; attention as Vaswani et al. 2017):
///   n = GN(x);  [q k v] = qkv(n)             (1x1, C -> 3C)
///   o = softmax(q kᵀ / sqrt(d)) v            per sample and head (`Engine.attention`), d = C / heads
///   y = x + output(o)                        (1x1, zero-initialised: the block starts as the identity)
/// Named `NAME.qkv`, `NAME.output`; the norm (no affine, no modulation) has no parameters. The residual add is
/// fused into the output convolution's product.
public final class AttentionBlock: Layer {
    public let norm: GroupNorm
    public let qkv: Conv2d
    public let output: Conv2d
    public let heads: Int
    public let pixels: Int

    /// A block on `height x width` images of `channels` channels (a multiple of `heads` and of `groups`).
    public init(_ name: String, height: Int, width: Int, channels: Int, heads: Int, groups: Int, layout: inout ParameterLayout) {
        pixels = height * width
        self.heads = heads
        norm = GroupNorm(channels: channels, pixels: pixels, groups: groups)
        qkv = Conv2d(name + ".qkv", geometry: ConvolutionGeometry(height: height, width: width, inputChannels: channels,
                                                                  outputChannels: 3 * channels, kernel: 1), layout: &layout)
        output = Conv2d(name + ".output", geometry: ConvolutionGeometry(height: height, width: width, inputChannels: channels,
                                                                        outputChannels: channels, kernel: 1),
                        zeroInitialised: true, layout: &layout)
    }

    public func forward(_ x: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        let projected = try qkv.forward(norm.forward(x, tape: tape), tape: tape)
        let attended = try tape.allocate(rows: x.rows, columns: x.columns)
        let probabilities = try tape.allocate(rows: x.rows * heads, columns: pixels)
        try tape.engine.attention(projected, tokens: pixels, heads: heads, probabilities: probabilities, into: attended)
        try tape.record(Attention(block: self, qkv: projected, probabilities: probabilities), inputs: [projected], output: attended,
                        parameterized: false)
        return try output.forward(attended, adding: x, tape: tape)
    }

    /// The recorded attention of the projected queries, keys and values, with the probabilities it kept.
    struct Attention: TapeOp {
        let block: AttentionBlock
        let qkv: Tensor
        let probabilities: Tensor

        /// Through the softmax into d[q k v] (`Engine.attentionBackward`).
        func backward(_ dy: Tensor, pass: BackwardPass) throws(OpenCLError) {
            let sink = try pass.sink(for: qkv)
            guard let target = sink.tensor else { return }
            let tape = pass.tape
            let dqkv = sink.accumulates ? try tape.allocate(rows: qkv.rows, columns: qkv.columns) : target
            let dScores = try tape.allocate(rows: probabilities.rows, columns: probabilities.columns)
            try pass.engine.attentionBackward(dy, qkv: qkv, tokens: block.pixels, heads: block.heads, probabilities: probabilities,
                                              scoresGradient: dScores, into: dqkv)
            if sink.accumulates { try pass.engine.axpy(1, dqkv, target) }
            try sink.finish(engine: pass.engine)
        }

        /// Through the softmax along d[q k v] (`Engine.attentionTangent`).
        func tangent(_ tape: Tape) throws(OpenCLError) -> Tensor? {
            guard let dqkv = tape.tangent(of: qkv) else { return nil }
            let dy = try tape.allocate(rows: qkv.rows, columns: qkv.columns / 3)
            let dProbabilities = try tape.allocate(rows: probabilities.rows, columns: probabilities.columns)
            try tape.engine.attentionTangent(dqkv, qkv: qkv, tokens: block.pixels, heads: block.heads, probabilities: probabilities,
                                             probabilitiesTangent: dProbabilities, into: dy)
            return dy
        }
    }
}
