import OpenCLKit

/// An op recorded on a `Tape` during a forward pass, holding what its two rules need (see `Layer` for the recipe).
public protocol TapeOp {
    /// Adds the parameter gradients for `dy` (dL/d(output), or dL/dZ when the op recorded a gate) and delivers each
    /// input's gradient into `pass`. `dy` belongs to the op for the call; it must not be written.
    func backward(_ dy: Tensor, pass: BackwardPass) throws(OpenCLError)
    /// d(output)/dε from the inputs' tangents on `tape` (parameters held constant), or nil where it is zero.
    func tangent(_ tape: Tape) throws(OpenCLError) -> Tensor?
}

/// Where an op's backward puts the gradient of one of its inputs.
public enum GradientSink {
    /// No gradient reaches anything that needs one through this input: skip it.
    case none
    /// Overwrite this tensor with dL/d(input); with a gate, with dL/dZ of the input's producer (dL/d(input) * act'(Z)).
    case write(Tensor, gate: Gate?)
    /// Add dL/d(input) to this tensor (the input's gradient has other contributions).
    case accumulate(Tensor)

    /// The tensor to write or add to (nil for `.none`).
    public var tensor: Tensor? {
        switch self {
        case .none: nil
        case let .write(tensor, _), let .accumulate(tensor): tensor
        }
    }

    /// Whether the gradient is added to what the tensor holds.
    public var accumulates: Bool { if case .accumulate = self { true } else { false } }

    /// The epilogue of a product that writes the gradient: the gate folded in, or accumulation.
    public var productEpilogue: MatmulEpilogue {
        switch self {
        case .none, .write(_, nil): .none
        case let .write(_, gate?): .activationGradient(preActivation: gate.preActivation, activation: gate.activation)
        case .accumulate: .accumulate
        }
    }

    /// Applies a `.write` sink's gate in place, for ops whose kernels cannot fold it.
    public func finish(engine: Engine) throws(OpenCLError) {
        if case let .write(tensor, gate?) = self {
            try engine.activationBackward(preActivation: gate.preActivation, gradient: tensor, gate.activation, into: tensor)
        }
    }
}
