import OpenCLKit

/// Self-attention over the pixels of each image with a residual connection (ADM's AttentionBlock, Dhariwal &
/// Nichol 2021; attention as Vaswani et al. 2017):
///   n = GN(x);  [q k v] = qkv(n)             (1x1, C -> 3C)
///   o = softmax(q kᵀ / sqrt(d)) v            per sample and head (`Engine.attention`), d = C / heads
///   y = x + output(o)                        (1x1, zero-initialised: the block starts as the identity)
/// Named `NAME.qkv`, `NAME.output`; the norm (no affine, no modulation) has no parameters. The residual add is
/// fused into the output convolution's product, and the identity path's gradient into the norm's backward.
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
        tape.save([projected, probabilities], for: self)
        return try output.forward(attended, adding: x, tape: tape)
    }

    public func outputGate(tape: Tape) throws(OpenCLError) -> Gate? { nil }

    /// dL/dx = dy (the identity path) + the attention branch's gradient, accumulated in place in `dy`.
    public func backward(_ dy: Tensor, tape: Tape, input: InputGradient) throws(OpenCLError) -> Tensor? {
        let saved = try tape.saved(for: self)
        let (projected, probabilities) = (saved[0], saved[1])
        let dAttended = try output.backward(dy, tape: tape, input: .plain)!
        let dProjected = try tape.allocate(rows: projected.rows, columns: projected.columns)
        let dScores = try tape.allocate(rows: probabilities.rows, columns: probabilities.columns)
        try tape.engine.attentionBackward(dAttended, qkv: projected, tokens: pixels, heads: heads, probabilities: probabilities,
                                          scoresGradient: dScores, into: dProjected)
        let dNormed = try qkv.backward(dProjected, tape: tape, input: .plain)!
        try norm.backward(dNormed, tape: tape, into: dy, accumulate: true)
        return try input.finish(dy, engine: tape.engine)
    }
}
