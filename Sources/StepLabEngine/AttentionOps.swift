import Foundation
import OpenCLKit

/// Multi-head self-attention over each image's pixels (`Kernels/attention.cl`) on a qkv matrix of
/// `(samples * tokens) x 3C` rows: q, k, v side by side, head h owning channels [h d, (h + 1) d) of each, d = C / heads.
extension Engine {
    /// o = softmax(q kᵀ / sqrt(d)) v per sample and head, into `output` ((samples * tokens) x C); the attention
    /// probabilities go to `probabilities` ((samples * heads * tokens) x tokens) for the backward.
    public func attention(_ qkv: Tensor, tokens: Int, heads: Int, probabilities: Tensor, into output: Tensor) throws(OpenCLError) {
        let (samples, channels) = try checkAttention(qkv, tokens: tokens, heads: heads, probabilities: probabilities)
        guard output.rows == qkv.rows, output.columns == channels else {
            throw .invalidRequest("attention output \(output.rows)x\(output.columns) does not fit qkv \(qkv.rows)x\(qkv.columns)")
        }
        let scale = 1 / Float(channels / heads).squareRoot()
        try launch("attention.cl", "attention_probabilities", global: [samples * heads * tokens], Int32(tokens), Int32(channels),
                   Int32(heads), scale, qkv.storage, qkv.kernelOffset, probabilities.storage, probabilities.kernelOffset)
        try launch("attention.cl", "attention_values", global: [channels, samples * tokens], Int32(tokens), Int32(channels),
                   Int32(heads), qkv.storage, qkv.kernelOffset, probabilities.storage, probabilities.kernelOffset,
                   output.storage, output.kernelOffset)
    }

    /// dL/d(qkv) into `qkvGradient` from dL/do, given the forward's qkv and probabilities; `scoresGradient` (the shape
    /// of the probabilities) is scratch.
    public func attentionBackward(_ outputGradient: Tensor, qkv: Tensor, tokens: Int, heads: Int, probabilities: Tensor,
                                  scoresGradient: Tensor, into qkvGradient: Tensor) throws(OpenCLError) {
        let (samples, channels) = try checkAttention(qkv, tokens: tokens, heads: heads, probabilities: probabilities)
        guard outputGradient.rows == qkv.rows, outputGradient.columns == channels, qkvGradient.rows == qkv.rows,
              qkvGradient.columns == qkv.columns, scoresGradient.count == probabilities.count else {
            throw .invalidRequest("attention backward: gradients do not fit qkv \(qkv.rows)x\(qkv.columns)")
        }
        let scale = 1 / Float(channels / heads).squareRoot()
        try launch("attention.cl", "attention_scores_backward", global: [samples * heads * tokens], Int32(tokens), Int32(channels),
                   Int32(heads), scale, qkv.storage, qkv.kernelOffset, probabilities.storage, probabilities.kernelOffset,
                   outputGradient.storage, outputGradient.kernelOffset, scoresGradient.storage, scoresGradient.kernelOffset)
        try launch("attention.cl", "attention_inputs_backward", global: [channels, samples * tokens], Int32(tokens), Int32(channels),
                   Int32(heads), qkv.storage, qkv.kernelOffset, probabilities.storage, probabilities.kernelOffset,
                   scoresGradient.storage, scoresGradient.kernelOffset, outputGradient.storage, outputGradient.kernelOffset,
                   qkvGradient.storage, qkvGradient.kernelOffset)
    }

    /// d(`attention`)/dε into `outputTangent` along `qkvTangent` (the tangent of qkv), given the forward's qkv and
    /// probabilities; `probabilitiesTangent` (the shape of the probabilities) is scratch.
    public func attentionTangent(_ qkvTangent: Tensor, qkv: Tensor, tokens: Int, heads: Int, probabilities: Tensor,
                                 probabilitiesTangent: Tensor, into outputTangent: Tensor) throws(OpenCLError) {
        let (samples, channels) = try checkAttention(qkv, tokens: tokens, heads: heads, probabilities: probabilities)
        guard qkvTangent.sameShape(as: qkv), outputTangent.rows == qkv.rows, outputTangent.columns == channels,
              probabilitiesTangent.count == probabilities.count else {
            throw .invalidRequest("attention tangent: tangents do not fit qkv \(qkv.rows)x\(qkv.columns)")
        }
        let scale = 1 / Float(channels / heads).squareRoot()
        try launch("attention.cl", "attention_probabilities_tangent", global: [samples * heads * tokens], Int32(tokens),
                   Int32(channels), Int32(heads), scale, qkv.storage, qkv.kernelOffset, qkvTangent.storage, qkvTangent.kernelOffset,
                   probabilities.storage, probabilities.kernelOffset, probabilitiesTangent.storage, probabilitiesTangent.kernelOffset)
        try launch("attention.cl", "attention_values_tangent", global: [channels, samples * tokens], Int32(tokens), Int32(channels),
                   Int32(heads), qkv.storage, qkv.kernelOffset, qkvTangent.storage, qkvTangent.kernelOffset,
                   probabilities.storage, probabilities.kernelOffset, probabilitiesTangent.storage, probabilitiesTangent.kernelOffset,
                   outputTangent.storage, outputTangent.kernelOffset)
    }

    /// (samples, C) of a valid attention call.
    private func checkAttention(_ qkv: Tensor, tokens: Int, heads: Int, probabilities: Tensor) throws(OpenCLError) -> (Int, Int) {
        let channels = qkv.columns / 3
        guard tokens > 0, heads > 0, qkv.columns == 3 * channels, channels % heads == 0, qkv.rows % tokens == 0 else {
            throw .invalidRequest("attention: qkv \(qkv.rows)x\(qkv.columns) is not 3C columns of \(heads) heads over \(tokens) tokens")
        }
        let samples = qkv.rows / tokens
        guard probabilities.rows == samples * heads * tokens, probabilities.columns == tokens else {
            throw .invalidRequest("attention probabilities \(probabilities.rows)x\(probabilities.columns), expected \(samples * heads * tokens)x\(tokens)")
        }
        return (samples, channels)
    }
}

extension Reference {
    /// Float64 twin of `Engine.attention`: the output ((samples * tokens) x C) and the probabilities.
    public static func attention(_ qkv: [Double], tokens: Int, channels: Int, heads: Int) -> (output: [Double], probabilities: [Double]) {
        let samples = qkv.count / (tokens * 3 * channels), d = channels / heads, scale = 1 / Double(d).squareRoot()
        func at(_ n: Int, _ t: Int, _ column: Int) -> Double { qkv[(n * tokens + t) * 3 * channels + column] }
        var output = [Double](repeating: 0, count: samples * tokens * channels)
        var probabilities = [Double](repeating: 0, count: samples * heads * tokens * tokens)
        for n in 0 ..< samples {
            for h in 0 ..< heads {
                for i in 0 ..< tokens {
                    let scores = (0 ..< tokens).map { j in scale * (0 ..< d).reduce(0.0) { $0 + at(n, i, h * d + $1) * at(n, j, channels + h * d + $1) } }
                    let top = scores.max()!, exps = scores.map { exp($0 - top) }, sum = exps.reduce(0, +)
                    let row = ((n * heads + h) * tokens + i) * tokens
                    for j in 0 ..< tokens { probabilities[row + j] = exps[j] / sum }
                    for c in 0 ..< d {
                        output[(n * tokens + i) * channels + h * d + c] =
                            (0 ..< tokens).reduce(0.0) { $0 + probabilities[row + $1] * at(n, $1, 2 * channels + h * d + c) }
                    }
                }
            }
        }
        return (output, probabilities)
    }
}
