import OpenCLKit

/// A building block of a network, defined by its forward alone: the ops it launches record themselves on the tape,
/// and the tape derives the backward and the tangents from that record.
///
/// **Adding an op** (copy `Linear` for one with parameters, `GroupNorm` for one without, `ChannelConcat` for one
/// with two inputs):
/// 1. Its kernel in `Kernels/*.cl` and an `Engine` method that launches it, with a float64 twin in `Reference`
///    tested on awkward shapes (1, primes, sizes no tile divides).
/// 2. In `init`, declare each parameter on the `ParameterLayout` under the layer's name (`"blocks.0.fc1.weight"`).
/// 3. `forward` takes its output (and every intermediate) from `tape.allocate`, launches the kernel, and records a
///    `TapeOp` with what the rules need: `tape.record(op, inputs:, output:, parameterized:)`.
/// 4. The op's **backward rule** adds each parameter's gradient into `tape.gradient(entry)` (matmul's
///    `.accumulate`, `columnSums(accumulate:)`) and delivers each input's gradient into `pass.sink(for:)`:
///    overwrite on `.write`, add on `.accumulate`, nothing on `.none`; a residual input that receives dL/dy
///    unchanged goes through `pass.passThrough`. A `.write` sink may carry the gate of the input's producer: fold
///    act'(Z) into the op's last kernel (`GradientSink.productEpilogue`) or apply it after (`GradientSink.finish`).
/// 5. Its **tangent rule** returns d(output)/dε from `tape.tangent(of:)` of its inputs (nil: zero), treating the
///    parameters as constants: a linear op applies itself to the tangent (no bias), an activation multiplies by
///    act'(Z), a norm differentiates its statistics.
/// 6. Tests: the kernel against its twin; the backward against central differences of the twin
///    (`Tests/StepLabEngineTests/LayerGradientTests.swift`); the tangent against central differences of the twin
///    (`Tests/StepLabEngineTests/TangentTests.swift`).
///
/// An op whose output is act(Z) with the activation fused into its kernel passes `gate` to `record`: its backward
/// then always receives dL/dZ, because the consumer folds act'(Z) into its own last kernel when it is the only one
/// (which saves a pass over the activations per layer) and the tape applies it otherwise.
public protocol Layer: AnyObject {
    /// The layer's output for `x` in the tape's current pass.
    func forward(_ x: Tensor, tape: Tape) throws(OpenCLError) -> Tensor
}

/// The stored pre-activation Z of an op's output act(Z), and the activation.
public struct Gate {
    public let preActivation: Tensor
    public let activation: Activation
    public init(preActivation: Tensor, activation: Activation) { self.preActivation = preActivation; self.activation = activation }
}
