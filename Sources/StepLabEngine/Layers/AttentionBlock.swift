import OpenCLKit

/// Self-attention over the pixels of each image with a residual connection (ADM's AttentionBlock, Dhariwal &
/// Nichol 2021; attention as Vaswani et al. 2017):
///   n = GN(x);  [q k v] = qkv(n)             (1x1, C -> 3C)
///   o = softmax(q kᵀ / sqrt(d)) v            per sample and head (`SelfAttention`), d = C / heads
///   y = x + output(o)                        (1x1, zero-initialised: the block starts as the identity)
/// Named `NAME.qkv`, `NAME.output`; the norm (no affine, no modulation) has no parameters. The residual add is
/// fused into the output convolution's product.
public final class AttentionBlock: Layer {
    public let norm: GroupNorm
    public let qkv: Conv2d
    public let output: Conv2d
    public let attention: SelfAttention

    /// A block on `height x width` images of `channels` channels (a multiple of `heads` and of `groups`).
    public init(_ name: String, height: Int, width: Int, channels: Int, heads: Int, groups: Int, layout: inout ParameterLayout) {
        let pixels = height * width
        attention = SelfAttention(tokens: pixels, heads: heads)
        norm = GroupNorm(channels: channels, pixels: pixels, groups: groups)
        qkv = Conv2d(name + ".qkv", geometry: ConvolutionGeometry(height: height, width: width, inputChannels: channels,
                                                                  outputChannels: 3 * channels, kernel: 1), layout: &layout)
        output = Conv2d(name + ".output", geometry: ConvolutionGeometry(height: height, width: width, inputChannels: channels,
                                                                        outputChannels: channels, kernel: 1),
                        zeroInitialised: true, layout: &layout)
    }

    public func forward(_ x: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        let attended = try attention.forward(qkv.forward(norm.forward(x, tape: tape), tape: tape), tape: tape)
        return try output.forward(attended, adding: x, tape: tape)
    }
}
