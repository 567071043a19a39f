import OpenCLKit

/// Multi-head self-attention over the tokens of each sample (Vaswani et al. 2017; `Engine.attention`): from the
/// projected `[q k v]` rows ((N T) x 3C), o = softmax(q kᵀ / sqrt(d)) v per sample and head, d = C / heads. No
/// parameters (the projections around it are `Linear` or 1x1 `Conv2d` layers); it keeps the probabilities for its
/// backward and tangent.
public final class SelfAttention {
    public let tokens: Int
    public let heads: Int

    public init(tokens: Int, heads: Int) { self.tokens = tokens; self.heads = heads }

    /// o ((N T) x C) for `qkv` ((N T) x 3C).
    public func forward(_ qkv: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        let attended = try tape.allocate(rows: qkv.rows, columns: qkv.columns / 3)
        let probabilities = try tape.allocate(rows: qkv.rows * heads, columns: tokens)
        try tape.engine.attention(qkv, tokens: tokens, heads: heads, probabilities: probabilities, into: attended)
        try tape.record(Attend(layer: self, qkv: qkv, probabilities: probabilities), inputs: [qkv], output: attended, parameterized: false)
        return attended
    }

    /// The recorded attention, with the probabilities it kept.
    struct Attend: TapeOp {
        let layer: SelfAttention
        let qkv: Tensor
        let probabilities: Tensor

        /// Through the softmax into d[q k v] (`Engine.attentionBackward`).
        func backward(_ dy: Tensor, pass: BackwardPass) throws(OpenCLError) {
            let sink = try pass.sink(for: qkv)
            guard let target = sink.tensor else { return }
            let tape = pass.tape
            let dqkv = sink.accumulates ? try tape.allocate(rows: qkv.rows, columns: qkv.columns) : target
            let dScores = try tape.allocate(rows: probabilities.rows, columns: probabilities.columns)
            try pass.engine.attentionBackward(dy, qkv: qkv, tokens: layer.tokens, heads: layer.heads, probabilities: probabilities,
                                              scoresGradient: dScores, into: dqkv)
            if sink.accumulates { try pass.engine.axpy(1, dqkv, target) }
            try sink.finish(engine: pass.engine)
        }

        /// Through the softmax along d[q k v] (`Engine.attentionTangent`).
        func tangent(_ tape: Tape) throws(OpenCLError) -> Tensor? {
            guard let dqkv = tape.tangent(of: qkv) else { return nil }
            let dy = try tape.allocate(rows: qkv.rows, columns: qkv.columns / 3)
            let dProbabilities = try tape.allocate(rows: probabilities.rows, columns: probabilities.columns)
            try tape.engine.attentionTangent(dqkv, qkv: qkv, tokens: layer.tokens, heads: layer.heads, probabilities: probabilities,
                                             probabilitiesTangent: dProbabilities, into: dy)
            return dy
        }
    }
}
