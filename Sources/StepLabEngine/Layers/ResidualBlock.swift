import OpenCLKit

/// A pre-norm residual MLP block conditioned by FiLM (DiT's block with adaLN-zero, Peebles & Xie 2023, on a
/// vector instead of tokens):
///   h + fc2(act(fc1(LayerNorm(h) * (1 + scale) + shift)))
/// with (scale, shift) this block's slice of the tape's conditioning, and fc2 zero-initialised so the block
/// starts as the identity. Named `NAME.fc1`, `NAME.fc2`; the norm has no parameters. The residual add is fused
/// into fc2's product.
public final class ResidualBlock: Layer {
    public let norm: GroupNorm
    public let fc1: Linear
    public let fc2: Linear

    /// A block of `width` features whose modulation is columns `modulationColumn ..< modulationColumn + 2 * width`
    /// of the tape's conditioning (nil: no FiLM).
    public init(_ name: String, width: Int, hidden: Int, activation: Activation, modulationColumn: Int?, layout: inout ParameterLayout) {
        norm = GroupNorm.layerNorm(features: width, modulationColumn: modulationColumn)
        fc1 = Linear(name + ".fc1", inputs: width, outputs: hidden, activation: activation, layout: &layout)
        fc2 = Linear(name + ".fc2", inputs: hidden, outputs: width, zeroInitialised: true, layout: &layout)
    }

    public func forward(_ h: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        let u = try fc1.forward(norm.forward(h, tape: tape), tape: tape)
        return try fc2.forward(u, adding: h, tape: tape)
    }
}
