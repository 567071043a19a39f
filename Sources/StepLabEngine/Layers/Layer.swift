import OpenCLKit

/// A building block of a network with its own backward.
///
/// **Adding a layer.** Copy `Linear` (parameters) or `LayerNorm` (none):
/// 1. In `init`, declare each parameter on the `ParameterLayout` under the layer's name (`"blocks.0.fc1.weight"`),
///    keeping the entry it returns; the store's flat layout, and so AdamW's and the EMA's single launch, follow.
/// 2. `forward` takes its output (and every intermediate) from `tape.allocate`, never from the engine, and
///    saves on the tape (`tape.save`) what its backward needs, only when `tape.recording`.
/// 3. `backward` *adds* each parameter's gradient into `tape.gradient(entry)` (matmul's `.accumulate`,
///    `columnSums(accumulate:)`), so a parameter used twice sums its uses; the caller zeroes the gradients once
///    per step (`ParameterStore.zeroGradients`).
/// 4. Give its kernels a CPU twin in `Reference`, and add the layer to the finite-difference checks in
///    `Tests/StepLabEngineTests/LayerGradientTests.swift`.
///
/// A layer whose output is act(Z) with the activation fused into its kernel exposes `outputGate`; whoever
/// consumes that output hands back dL/dZ instead of dL/d(output), folding act'(Z) into its own last kernel
/// (`InputGradient.gated`), which saves a pass over the activations per layer. A layer is used once per pass
/// of a tape (its saved tensors are keyed by the layer).
public protocol Layer: AnyObject {
    /// The layer's output for `x` in the tape's current pass.
    func forward(_ x: Tensor, tape: Tape) throws(OpenCLError) -> Tensor
    /// The pre-activation and activation of the last forward's output when the layer ends in a fused activation
    /// (then `backward` receives dL/dZ, never dL/d(output)); nil otherwise.
    func outputGate(tape: Tape) throws(OpenCLError) -> Gate?
    /// Adds dL/dθ for `dy` (dL/d(output), or dL/dZ when `outputGate` is set) into the tape's gradients and returns
    /// the gradient of the input that `input` asks for. `dy` belongs to the layer for the call (it may be reused).
    func backward(_ dy: Tensor, tape: Tape, input: InputGradient) throws(OpenCLError) -> Tensor?
}

/// The stored pre-activation Z of a layer's output act(Z), and the activation.
public struct Gate {
    public let preActivation: Tensor
    public let activation: Activation
    public init(preActivation: Tensor, activation: Activation) { self.preActivation = preActivation; self.activation = activation }
}

/// Which gradient of its input a layer's backward returns.
public enum InputGradient {
    /// None: the input is data (the backward returns nil and skips the product).
    case none
    /// dL/d(input).
    case plain
    /// dL/dZ of the layer before, whose output act(Z) is this layer's input: dL/d(input) * act'(Z).
    case gated(Gate)

    /// The gate of the layer that produced a layer's input (`.plain` when it has none).
    public static func from(_ producer: any Layer, tape: Tape) throws(OpenCLError) -> InputGradient {
        try producer.outputGate(tape: tape).map { .gated($0) } ?? .plain
    }

    /// Applies the gate to a plain input gradient `dx` in place, for layers that cannot fold it into a kernel.
    public func finish(_ dx: Tensor, engine: Engine) throws(OpenCLError) -> Tensor? {
        switch self {
        case .none: return nil
        case .plain: return dx
        case let .gated(gate):
            try engine.activationBackward(preActivation: gate.preActivation, gradient: dx, gate.activation, into: dx)
            return dx
        }
    }
}
