import OpenCLKit

/// LayerNorm over features without an affine of its own, optionally FiLM-modulated per sample by one block's
/// slice of the tape's conditioning (adaLN, DiT) and followed by a fused activation: see `Engine.layerNorm`.
/// It has no parameters; with `modulationColumn` its scale and shift are columns `modulationColumn ..<
/// modulationColumn + 2 * features` of `tape.conditioning`, and their gradient goes to `tape.conditioningGradient`.
public final class LayerNorm: Layer {
    public let features: Int
    public let activation: Activation
    public let modulationColumn: Int?
    public let epsilon: Float

    public init(features: Int, activation: Activation = .identity, modulationColumn: Int? = nil, epsilon: Float = 1e-5) {
        self.features = features; self.activation = activation; self.modulationColumn = modulationColumn; self.epsilon = epsilon
    }

    public func forward(_ x: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        let y = try tape.allocate(columns: features)
        let stats = try tape.allocate(columns: 2)
        try tape.engine.layerNorm(x, modulation: modulation(tape), activation: activation, epsilon: epsilon, into: y, stats: stats)
        tape.save([x, stats], for: self)
        return y
    }

    /// The activation is applied inside the kernel, so the consumer hands back dL/d(output).
    public func outputGate(tape: Tape) throws(OpenCLError) -> Gate? { nil }

    public func backward(_ dy: Tensor, tape: Tape, input: InputGradient) throws(OpenCLError) -> Tensor? {
        if case .none = input, modulationColumn == nil { return nil }
        let dx = try tape.allocate(columns: features)
        try backward(dy, tape: tape, into: dx, accumulate: false)
        return try input.finish(dx, engine: tape.engine)
    }

    /// The backward writing dL/dx into `dx`, or adding it there when `accumulate` (a residual stream's gradient).
    public func backward(_ dy: Tensor, tape: Tape, into dx: Tensor, accumulate: Bool) throws(OpenCLError) {
        let saved = try tape.saved(for: self)
        let modulation = try modulation(tape)
        guard modulation == nil || tape.conditioningGradient != nil else {
            throw .invalidRequest("a modulated LayerNorm's backward needs tape.conditioningGradient")
        }
        try tape.engine.layerNormBackward(dy, input: saved[0], stats: saved[1], modulation: modulation,
                                          modulationGradient: tape.conditioningGradient, activation: activation,
                                          accumulate: accumulate, into: dx)
    }

    private func modulation(_ tape: Tape) throws(OpenCLError) -> Modulation? {
        guard let column = modulationColumn else { return nil }
        guard let conditioning = tape.conditioning else { throw .invalidRequest("a modulated LayerNorm needs tape.conditioning") }
        return Modulation(values: conditioning, column: column)
    }
}
