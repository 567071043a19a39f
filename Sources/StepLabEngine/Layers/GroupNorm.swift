import OpenCLKit

/// GroupNorm over NHWC activations (`(samples * pixels) x channels`) without an affine of its own, optionally
/// FiLM-modulated per sample by one norm's slice of the tape's conditioning (ADM's scale-shift norm, DiT's adaLN)
/// and followed by a fused activation: see `Engine.groupNorm`. LayerNorm is one pixel and one group (`layerNorm`).
/// It has no parameters; with `modulationColumn` its scale and shift are columns `modulationColumn ..<
/// modulationColumn + 2 * channels` of `tape.conditioning`, whose gradient and tangent its rules take care of.
public final class GroupNorm: Layer {
    public let channels: Int
    /// Pixels per sample (H * W; 1 for a vector).
    public let pixels: Int
    public let groups: Int
    public let activation: Activation
    /// With a modulation, consecutive normalised samples share a conditioning row when the conditioning has fewer rows
    /// than there are samples: a DiT's tokens share their image's row, and a pass with `Tape.timesShared` has one row.
    public let modulationColumn: Int?
    public let epsilon: Float

    public init(channels: Int, pixels: Int, groups: Int, activation: Activation = .identity, modulationColumn: Int? = nil,
                epsilon: Float = 1e-5) {
        self.channels = channels; self.pixels = pixels; self.groups = groups; self.activation = activation
        self.modulationColumn = modulationColumn; self.epsilon = epsilon
    }

    /// LayerNorm over `features` per row (see `modulationColumn`).
    public static func layerNorm(features: Int, activation: Activation = .identity, modulationColumn: Int? = nil) -> GroupNorm {
        GroupNorm(channels: features, pixels: 1, groups: 1, activation: activation, modulationColumn: modulationColumn)
    }

    public func forward(_ x: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        guard x.columns == channels else { throw .invalidRequest("GroupNorm of \(channels) channels got \(x.rows)x\(x.columns)") }
        let y = try tape.allocate(rows: x.rows, columns: channels)
        let stats = try tape.allocate(rows: Swift.max(1, x.rows / pixels), columns: 2 * groups)
        let modulation = try modulation(tape, samples: x.rows / pixels)
        try tape.engine.groupNorm(x, pixels: pixels, groups: groups, modulation: modulation, activation: activation,
                                  epsilon: epsilon, into: y, stats: stats)
        if let modulation {
            try tape.noteSlice(of: modulation.values, columns: modulation.column ..< modulation.column + 2 * channels)
        }
        try tape.record(Normalization(layer: self, x: x, stats: stats, modulation: modulation),
                        inputs: [x] + (modulation.map { [$0.values] } ?? []), output: y, parameterized: false)
        return y
    }

    /// The recorded normalisation (its activation is inside the kernel, so it records no gate).
    struct Normalization: TapeOp {
        let layer: GroupNorm
        let x: Tensor
        let stats: Tensor
        let modulation: Modulation?

        /// dx (written or added) and the modulation's slice of the conditioning gradient, in one kernel.
        func backward(_ dy: Tensor, pass: BackwardPass) throws(OpenCLError) {
            let sink = try pass.sink(for: x)
            var modulationGradient: Tensor?
            if let m = modulation {
                modulationGradient = try pass.sliceGradient(for: m.values)
                if modulationGradient == nil { modulationGradient = try pass.tape.allocate(rows: m.values.rows, columns: m.values.columns) }
            }
            if case .none = sink, modulationGradient == nil { return }
            var dx: Tensor
            if let target = sink.tensor { dx = target } else { dx = try pass.tape.allocate(rows: x.rows, columns: x.columns) }
            try pass.engine.groupNormBackward(dy, input: x, pixels: layer.pixels, groups: layer.groups, stats: stats,
                                              modulation: modulation, modulationGradient: modulationGradient,
                                              activation: layer.activation, accumulate: sink.accumulates, into: dx)
            try sink.finish(engine: pass.engine)
        }

        /// The normalisation's tangent with its statistics', FiLM's from the conditioning's tangent, then act'.
        func tangent(_ tape: Tape) throws(OpenCLError) -> Tensor? {
            let dx = tape.tangent(of: x), dc = modulation.flatMap { tape.tangent(of: $0.values) }
            guard dx != nil || dc != nil else { return nil }
            let dy = try tape.allocate(rows: x.rows, columns: x.columns)
            try tape.engine.groupNormTangent(x, tangent: dx, pixels: layer.pixels, groups: layer.groups, stats: stats,
                                             modulation: modulation, modulationTangent: dc, activation: layer.activation, into: dy)
            return dy
        }
    }

    /// This norm's slice of the tape's conditioning for `samples` normalised samples, each conditioning row read by
    /// `samples / rows` consecutive samples.
    private func modulation(_ tape: Tape, samples: Int) throws(OpenCLError) -> Modulation? {
        guard let column = modulationColumn else { return nil }
        guard let conditioning = tape.conditioning else { throw .invalidRequest("a modulated norm needs tape.conditioning") }
        guard samples % conditioning.rows == 0 else {
            throw .invalidRequest("a modulated norm over \(samples) samples cannot share \(conditioning.rows) conditioning rows")
        }
        return Modulation(values: conditioning, column: column, sharedBy: samples / conditioning.rows)
    }
}
