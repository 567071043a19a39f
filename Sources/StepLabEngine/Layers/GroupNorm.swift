import OpenCLKit

/// GroupNorm over NHWC activations (`(samples * pixels) x channels`) without an affine of its own, optionally
/// FiLM-modulated per sample by one norm's slice of the tape's conditioning (ADM's scale-shift norm, DiT's adaLN)
/// and followed by a fused activation: see `Engine.groupNorm`. LayerNorm is one pixel and one group (`layerNorm`).
/// It has no parameters; with `modulationColumn` its scale and shift are columns `modulationColumn ..<
/// modulationColumn + 2 * channels` of `tape.conditioning`, and their gradient goes to `tape.conditioningGradient`.
public final class GroupNorm: Layer {
    public let channels: Int
    /// Pixels per sample (H * W; 1 for a vector).
    public let pixels: Int
    public let groups: Int
    public let activation: Activation
    public let modulationColumn: Int?
    public let epsilon: Float

    public init(channels: Int, pixels: Int, groups: Int, activation: Activation = .identity, modulationColumn: Int? = nil,
                epsilon: Float = 1e-5) {
        self.channels = channels; self.pixels = pixels; self.groups = groups; self.activation = activation
        self.modulationColumn = modulationColumn; self.epsilon = epsilon
    }

    /// LayerNorm over `features` per row.
    public static func layerNorm(features: Int, activation: Activation = .identity, modulationColumn: Int? = nil) -> GroupNorm {
        GroupNorm(channels: features, pixels: 1, groups: 1, activation: activation, modulationColumn: modulationColumn)
    }

    public func forward(_ x: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        guard x.columns == channels else { throw .invalidRequest("GroupNorm of \(channels) channels got \(x.rows)x\(x.columns)") }
        let y = try tape.allocate(rows: x.rows, columns: channels)
        let stats = try tape.allocate(rows: Swift.max(1, x.rows / pixels), columns: 2 * groups)
        try tape.engine.groupNorm(x, pixels: pixels, groups: groups, modulation: modulation(tape), activation: activation,
                                  epsilon: epsilon, into: y, stats: stats)
        tape.save([x, stats], for: self)
        return y
    }

    /// The activation is applied inside the kernel, so the consumer hands back dL/d(output).
    public func outputGate(tape: Tape) throws(OpenCLError) -> Gate? { nil }

    public func backward(_ dy: Tensor, tape: Tape, input: InputGradient) throws(OpenCLError) -> Tensor? {
        if case .none = input, modulationColumn == nil { return nil }
        let dx = try tape.allocate(rows: dy.rows, columns: channels)
        try backward(dy, tape: tape, into: dx, accumulate: false)
        return try input.finish(dx, engine: tape.engine)
    }

    /// The backward writing dL/dx into `dx`, or adding it there when `accumulate` (a residual stream's gradient).
    public func backward(_ dy: Tensor, tape: Tape, into dx: Tensor, accumulate: Bool) throws(OpenCLError) {
        let saved = try tape.saved(for: self)
        let modulation = try modulation(tape)
        guard modulation == nil || tape.conditioningGradient != nil else {
            throw .invalidRequest("a modulated norm's backward needs tape.conditioningGradient")
        }
        try tape.engine.groupNormBackward(dy, input: saved[0], pixels: pixels, groups: groups, stats: saved[1],
                                          modulation: modulation, modulationGradient: tape.conditioningGradient,
                                          activation: activation, accumulate: accumulate, into: dx)
    }

    private func modulation(_ tape: Tape) throws(OpenCLError) -> Modulation? {
        guard let column = modulationColumn else { return nil }
        guard let conditioning = tape.conditioning else { throw .invalidRequest("a modulated norm needs tape.conditioning") }
        return Modulation(values: conditioning, column: column)
    }
}
