import OpenCLKit

/// A U-Net residual block conditioned on time by FiLM in both norms (ADM's ResBlock with scale-shift norm,
/// Dhariwal & Nichol 2021, with the first norm modulated too in place of GroupNorm's affine):
///   n1 = act(GN(x) (1 + scale1) + shift1);  h = conv1(n1)                     (3x3, Cin -> Cout)
///   n2 = act(GN(h) (1 + scale2) + shift2);  y = skip(x) + conv2(n2)           (3x3, Cout -> Cout, zero-initialised)
/// skip is the identity when Cin == Cout, else a 1x1 convolution. Named `NAME.conv1`, `NAME.conv2`, `NAME.skip`;
/// the norms have no parameters and read 2 Cin and 2 Cout columns of the tape's conditioning from
/// `modulationColumn` (norm1 first). The residual add is fused into conv2's product.
public final class ConvResidualBlock: Layer {
    public let norm1: GroupNorm
    public let conv1: Conv2d
    public let norm2: GroupNorm
    public let conv2: Conv2d
    public let skip: Conv2d?

    /// A block on `height x width` images of `inputs` channels; `modulationColumns` is the conditioning width it reads.
    public init(_ name: String, height: Int, width: Int, inputs: Int, outputs: Int, groups: Int, activation: Activation,
                modulationColumn: Int, layout: inout ParameterLayout) {
        let pixels = height * width
        norm1 = GroupNorm(channels: inputs, pixels: pixels, groups: groups, activation: activation, modulationColumn: modulationColumn)
        conv1 = Conv2d(name + ".conv1", geometry: ConvolutionGeometry(height: height, width: width, inputChannels: inputs,
                                                                      outputChannels: outputs), layout: &layout)
        norm2 = GroupNorm(channels: outputs, pixels: pixels, groups: groups, activation: activation,
                          modulationColumn: modulationColumn + 2 * inputs)
        conv2 = Conv2d(name + ".conv2", geometry: ConvolutionGeometry(height: height, width: width, inputChannels: outputs,
                                                                      outputChannels: outputs), zeroInitialised: true, layout: &layout)
        skip = inputs == outputs ? nil : Conv2d(name + ".skip", geometry: ConvolutionGeometry(
            height: height, width: width, inputChannels: inputs, outputChannels: outputs, kernel: 1), layout: &layout)
    }

    /// Conditioning columns the block's two norms read.
    public var modulationColumns: Int { 2 * (norm1.channels + norm2.channels) }

    public func forward(_ x: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        let h = try conv1.forward(norm1.forward(x, tape: tape), tape: tape)
        let n2 = try norm2.forward(h, tape: tape)
        return try conv2.forward(n2, adding: skip?.forward(x, tape: tape) ?? x, tape: tape)
    }
}
