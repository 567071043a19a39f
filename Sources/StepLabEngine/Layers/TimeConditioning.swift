import OpenCLKit

/// The time MLP of a time-conditioned network: `c = time.2(act(time.1(act(time.0(emb(t))))))`, every FiLM
/// (scale, shift) of the network side by side in one product, kept as the tape's conditioning for the norms that read
/// their slices of it (`GroupNorm`'s `modulationColumn`). emb(t) is `Engine.timeEmbedding` with 2F features of t
/// times `timeScale`. Named `time.0`, `time.1`, `time.2` (see `Linear`).
public final class TimeConditioning {
    let mlp: Sequential
    public let frequencies: Int
    public let timeScale: Float

    /// A time MLP of hidden `width` making `outputs` conditioning columns.
    public init(width: Int, outputs: Int, frequencies: Int, timeScale: Float, activation: Activation, layout: inout ParameterLayout) {
        self.frequencies = frequencies; self.timeScale = timeScale
        mlp = Sequential([
            Linear("time.0", inputs: 2 * frequencies, outputs: width, activation: activation, layout: &layout),
            Linear("time.1", inputs: width, outputs: width, activation: activation, layout: &layout),
            Linear("time.2", inputs: width, outputs: outputs, layout: &layout),
        ])
    }

    /// Checks that the pass's input `x` is batch x `inputs` at batch x 1 times `t`, then sets `tape.conditioning`;
    /// `network` names the network in errors.
    public func condition(_ t: Tensor?, input x: Tensor, inputs: Int, network: String, tape: Tape) throws(OpenCLError) {
        guard let t else { throw .invalidRequest("\(network) is time-conditioned: forward needs the times") }
        guard x.rows == tape.batch, x.columns == inputs, t.rows == tape.batch, t.columns == 1 else {
            throw .invalidRequest("\(network) input is \(x.rows)x\(x.columns) at \(t.rows)x\(t.columns) times, expected "
                                  + "\(tape.batch)x\(inputs) at \(tape.batch)x1")
        }
        let embedding = try tape.allocate(columns: 2 * frequencies)
        try tape.engine.timeEmbedding(t, scale: timeScale, into: embedding)
        tape.conditioning = try mlp.forward(embedding, tape: tape)
    }

    /// Adds the time MLP's parameter gradients for `tape.conditioningGradient` (filled by the norms' backwards).
    public func backward(tape: Tape) throws(OpenCLError) {
        guard let gradient = tape.conditioningGradient else { throw .invalidRequest("time conditioning backward without its gradient") }
        _ = try mlp.backward(gradient, tape: tape, input: .none)
    }
}
