import Foundation
import OpenCLKit
import StepLabKernels

/// How the attention forward spreads a head's query rows over work-items (the backward and tangent have one shape).
public enum AttentionVariant: String, Sendable, CaseIterable {
    /// One work-item per row of the probabilities, then one per output element (`Kernels/attention.cl`): for CPUs.
    case perRow
    /// One work-group per (sample, head, tile of query rows), keys and values staged through local memory by tiles
    /// (`Kernels/attention_wg.cl`): for GPUs.
    case workGroup
}

/// Multi-head self-attention over each image's pixels (`Kernels/attention.cl`) on a qkv matrix of
/// `(samples * tokens) x 3C` rows: q, k, v side by side, head h owning channels [h d, (h + 1) d) of each, d = C / heads.
extension Engine {
    /// o = softmax(q kᵀ / sqrt(d)) v per sample and head, into `output` ((samples * tokens) x C); the attention
    /// probabilities go to `probabilities` ((samples * heads * tokens) x tokens) for the backward. Runs in the
    /// engine's `attentionVariant`.
    public func attention(_ qkv: Tensor, tokens: Int, heads: Int, probabilities: Tensor, into output: Tensor) throws(OpenCLError) {
        let (samples, channels) = try checkAttention(qkv, tokens: tokens, heads: heads, probabilities: probabilities)
        guard output.rows == qkv.rows, output.columns == channels else {
            throw .invalidRequest("attention output \(output.rows)x\(output.columns) does not fit qkv \(qkv.rows)x\(qkv.columns)")
        }
        let scale = 1 / Float(channels / heads).squareRoot()
        if let shape = try attentionWorkGroupShape(headWidth: channels / heads) {
            let tiles = (tokens + shape.rows - 1) / shape.rows
            try launch("attention_wg.cl", "attention_forward_wg", global: [samples * heads * tiles * shape.size], local: [shape.size],
                       options: shape.options, Int32(tokens), Int32(channels), Int32(heads), scale, qkv.storage, qkv.kernelOffset,
                       probabilities.storage, probabilities.kernelOffset, output.storage, output.kernelOffset)
            return
        }
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

    /// Query rows of the work-group forward share a row's work among this many work-items (its LANES): half a
    /// 32-wide SIMD group, so the lanes' neighbouring score columns and output channels make one coalesced access.
    static let attentionLanes = 16

    /// The work-group forward's size, query rows per group and build options for heads `headWidth` wide, or nil where the
    /// per-row kernels run: in the `perRow` variant, and where even the smallest key tile's local arrays would not fit
    /// the device (or the kernel cannot run a group that size). Groups take up to 256 work-items; the key tile is the
    /// largest of 64, 32, 16 keys that fits (see the banner of `Kernels/attention_wg.cl`).
    private func attentionWorkGroupShape(headWidth: Int) throws(OpenCLError) -> (size: Int, rows: Int, options: String)? {
        let lanes = Self.attentionLanes
        guard attentionVariant == .workGroup, device.maxWorkGroupSize >= lanes else { return nil }
        let size = Swift.min(256, 1 << (Int.bitWidth - 1 - device.maxWorkGroupSize.leadingZeroBitCount)), rows = size / lanes
        let stride = headWidth | 1
        func localBytes(_ keys: Int) -> Int { 4 * (rows * stride + keys * stride + rows * keys + 2 * size) }
        guard let keys = [64, 32, 16].first(where: { UInt64(localBytes($0)) <= device.localMemoryBytes }) else { return nil }
        let options = "-D DH=\(headWidth) -D WG=\(size) -D LANES=\(lanes) -D KT=\(keys)"
        let kernel = try kernel(files: KernelLibrary.program("attention_wg.cl"), "attention_forward_wg", options: options)
        guard kernel.maxWorkGroupSize >= size else { return nil }
        return (size, rows, options)
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
    /// Float64 twin of `Engine.attention`: the output ((samples * tokens) x C) and the probabilities. Plain loops, as
    /// the tests' difference quotients run it many times in debug builds.
    public static func attention(_ qkv: [Double], tokens: Int, channels: Int, heads: Int) -> (output: [Double], probabilities: [Double]) {
        let samples = qkv.count / (tokens * 3 * channels), d = channels / heads, scale = 1 / Double(d).squareRoot()
        var output = [Double](repeating: 0, count: samples * tokens * channels)
        var probabilities = [Double](repeating: 0, count: samples * heads * tokens * tokens)
        var scores = [Double](repeating: 0, count: tokens)
        for n in 0 ..< samples {
            // Token t's q, k and v of head h start at row(t) + h d, + C, + 2C.
            func row(_ t: Int) -> Int { (n * tokens + t) * 3 * channels }
            for h in 0 ..< heads {
                for i in 0 ..< tokens {
                    for j in 0 ..< tokens {
                        var dot = 0.0
                        for c in 0 ..< d { dot += qkv[row(i) + h * d + c] * qkv[row(j) + channels + h * d + c] }
                        scores[j] = scale * dot
                    }
                    let top = scores.max()!
                    var sum = 0.0
                    for j in 0 ..< tokens { scores[j] = exp(scores[j] - top); sum += scores[j] }
                    let p = ((n * heads + h) * tokens + i) * tokens
                    for j in 0 ..< tokens { probabilities[p + j] = scores[j] / sum }
                    for c in 0 ..< d {
                        var value = 0.0
                        for j in 0 ..< tokens { value += probabilities[p + j] * qkv[row(j) + 2 * channels + h * d + c] }
                        output[(n * tokens + i) * channels + h * d + c] = value
                    }
                }
            }
        }
        return (output, probabilities)
    }
}
