import OpenCLKit

/// A pre-norm residual MLP block conditioned by FiLM (DiT's block with adaLN-zero, Peebles & Xie 2023, on a
/// vector instead of tokens):
///   h + fc2(act(fc1(LayerNorm(h) * (1 + scale) + shift)))
/// with (scale, shift) this block's slice of the tape's conditioning, and fc2 zero-initialised so the block
/// starts as the identity. Named `NAME.fc1`, `NAME.fc2`; the norm has no parameters. The residual add is fused
/// into fc2's product, and the skip path's gradient into the norm's backward.
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

    public func outputGate(tape: Tape) throws(OpenCLError) -> Gate? { nil }

    /// dL/dh = dL/dy (the skip) + the branch's gradient, accumulated in place in `dy`.
    public func backward(_ dy: Tensor, tape: Tape, input: InputGradient) throws(OpenCLError) -> Tensor? {
        let du = try fc2.backward(dy, tape: tape, input: .from(fc1, tape: tape))!
        let dn = try fc1.backward(du, tape: tape, input: .plain)!
        try norm.backward(dn, tape: tape, into: dy, accumulate: true)
        return try input.finish(dy, engine: tape.engine)
    }
}
