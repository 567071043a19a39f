import OpenCLKit

/// The time MLP of a time-conditioned network: `c = time.2(act(time.1(act(time.0(emb(t))))))`, every FiLM
/// (scale, shift) of the network side by side in one product, kept as the tape's conditioning for the norms that read
/// their slices of it (`GroupNorm`'s `modulationColumn`). emb(t) is `Engine.timeEmbedding` with 2F features of t
/// times `timeScale`. A network conditioned on several times per sample (MeanFlow's (r, t), a shortcut model's step
/// size) embeds each and feeds the embeddings side by side to `time.0`. Named `time.0`, `time.1`, `time.2` (see
/// `Linear`). The times take no gradient; their tangent (d/dt along a time tangent) flows through the embedding.
/// With `weighting` features it also declares `weighting.weight` (features x 1) and `weighting.bias` (1 x 1), zeros: a
/// loss weighting w(t) learned beside the network (sCM's w_phi, EDM2's u(sigma)) that the network's parameters carry so
/// that the optimizer, the EMA and checkpoints include it. The network never reads it; the objective does.
public final class TimeConditioning {
    let mlp: Sequential
    public let frequencies: Int
    public let timeScale: Float
    /// Times per sample.
    public let times: Int

    /// A time MLP of hidden `width` on `times` times per sample, making `outputs` conditioning columns.
    public init(width: Int, outputs: Int, frequencies: Int, timeScale: Float, times: Int = 1, weighting: Int = 0, activation: Activation,
                layout: inout ParameterLayout) {
        self.frequencies = frequencies; self.timeScale = timeScale; self.times = times
        mlp = Sequential([
            Linear("time.0", inputs: 2 * frequencies * times, outputs: width, activation: activation, layout: &layout),
            Linear("time.1", inputs: width, outputs: width, activation: activation, layout: &layout),
            Linear("time.2", inputs: width, outputs: outputs, layout: &layout),
        ])
        if weighting > 0 {
            _ = layout.declare("weighting.weight", rows: weighting, columns: 1, .zeros)
            _ = layout.declare("weighting.bias", rows: 1, columns: 1, .zeros)
        }
    }

    /// Checks that the pass's input `x` is batch x `inputs` at batch x `times` times `t`, then sets `tape.conditioning`:
    /// batch rows, or one when `tape.timesShared`. `network` names the network in errors.
    public func condition(_ t: Tensor?, input x: Tensor, inputs: Int, network: String, tape: Tape) throws(OpenCLError) {
        guard let t else { throw .invalidRequest("\(network) is time-conditioned: forward needs the times") }
        guard x.rows == tape.batch, x.columns == inputs, t.rows == tape.batch, t.columns == times else {
            throw .invalidRequest("\(network) input is \(x.rows)x\(x.columns) at \(t.rows)x\(t.columns) times, expected "
                                  + "\(tape.batch)x\(inputs) at \(tape.batch)x\(times)")
        }
        let conditioned = tape.timesShared ? try t.rows(0, count: 1) : t
        let embedding = try tape.allocate(rows: conditioned.rows, columns: 2 * frequencies * times)
        try tape.engine.timeEmbedding(conditioned, scale: timeScale, into: embedding)
        try tape.record(Embedding(t: conditioned, embedding: embedding, scale: timeScale), inputs: [conditioned], output: embedding,
                        parameterized: false)
        tape.conditioning = try mlp.forward(embedding, tape: tape)
    }

    /// The recorded sinusoidal embedding of the times.
    struct Embedding: TapeOp {
        let t: Tensor
        let embedding: Tensor
        let scale: Float

        /// The times are data: nothing to deliver.
        func backward(_ dy: Tensor, pass: BackwardPass) throws(OpenCLError) {}

        /// d emb/dt · ṫ.
        func tangent(_ tape: Tape) throws(OpenCLError) -> Tensor? {
            guard let dt = tape.tangent(of: t) else { return nil }
            let tangent = try tape.allocate(rows: embedding.rows, columns: embedding.columns)
            try tape.engine.timeEmbeddingTangent(embedding, timeTangent: dt, scale: scale, into: tangent)
            return tangent
        }
    }
}
