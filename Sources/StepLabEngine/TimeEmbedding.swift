import Foundation
import OpenCLKit

/// The sinusoidal time embedding (Vaswani et al. 2017, applied to 1000 t as in DDPM-style networks) and the
/// network input `[z, emb(t)]` it is written into (`network_input_f32` in `Kernels/schedule.cl`):
/// `emb(t) = [sin(1000 t f_0), ..., sin(1000 t f_(F-1)), cos(1000 t f_0), ..., cos(1000 t f_(F-1))]`,
/// `f_i = exp(-ln(10000) i / F)`. The reference workload uses F = 8.
///
/// On devices with `cl_khr_fp64` the angle (up to 1000 rad) is formed and reduced in double, so results
/// match `Reference` to float rounding; in float they are good to about 5e-4.
extension Engine {
    /// `emb` (rows x 2FK) = [emb(t_0), ..., emb(t_(K-1))] for `t` (rows x K: one or more times per row, such as
    /// MeanFlow's (r, t)), each time's 2F features side by side; F = `emb.columns / (2 K)`.
    public func timeEmbedding(_ t: Tensor, scale: Float = 1000, into emb: Tensor) throws(OpenCLError) {
        let frequencies = try embeddingFrequencies("timeEmbedding", t, emb)
        try launch("schedule.cl", "time_embeddings", global: [emb.rows, t.columns], t.storage, t.kernelOffset, Int32(t.columns),
                   Int32(frequencies), scale, emb.storage, emb.kernelOffset)
    }

    /// `tangent` (rows x 2FK) = d emb(t)/dt · `dt` from the embeddings `emb` themselves and `dt` (the shape of t).
    public func timeEmbeddingTangent(_ emb: Tensor, timeTangent dt: Tensor, scale: Float = 1000, into tangent: Tensor) throws(OpenCLError) {
        try requireSameShape("timeEmbeddingTangent", emb, tangent)
        let frequencies = try embeddingFrequencies("timeEmbeddingTangent", dt, emb)
        try launch("schedule.cl", "time_embedding_tangent", global: [emb.rows, dt.columns], emb.storage, emb.kernelOffset,
                   dt.storage, dt.kernelOffset, Int32(dt.columns), Int32(frequencies), scale, tangent.storage, tangent.kernelOffset)
    }

    /// F of embeddings `emb` of the times `t` (rows x K), or a one-line error.
    private func embeddingFrequencies(_ name: String, _ t: Tensor, _ emb: Tensor) throws(OpenCLError) -> Int {
        guard t.rows == emb.rows, emb.columns % (2 * t.columns) == 0 else {
            throw .invalidRequest("\(name): \(emb.rows)x\(emb.columns) is not 2F columns for each of \(t.rows)x\(t.columns) times")
        }
        return emb.columns / (2 * t.columns)
    }

    /// `input` (rows x (d + 2F)) = `[z, emb(t)]` for `z` (rows x d) and `t` (rows x 1), in one launch;
    /// F = `(input.columns - d) / 2`.
    /// `scale` multiplies t before the embedding (1000: DDPM's convention and the reference workload's).
    public func networkInput(_ z: Tensor, t: Tensor, scale: Float = 1000, into input: Tensor) throws(OpenCLError) {
        let extra = input.columns - z.columns
        guard input.rows == z.rows, extra > 0, extra % 2 == 0 else {
            throw .invalidRequest("networkInput: \(input.rows)x\(input.columns) is not [z (\(z.rows)x\(z.columns)), 2F columns]")
        }
        try requireColumn("networkInput", t, rows: z.rows)
        try launch("schedule.cl", "network_input_f32", global: [input.rows], z.storage, z.kernelOffset, Int32(z.columns),
                   t.storage, t.kernelOffset, Int32(extra / 2), scale, input.storage, input.kernelOffset)
    }
}

extension Reference {
    /// emb(t) for each t, row-major (t.count x 2F), in Double rounded once; for K times per row (t row-major,
    /// rows x K) this is each row's K embeddings side by side.
    public static func timeEmbedding(_ t: [Float], frequencies: Int, scale: Float = 1000) -> [Float] {
        t.flatMap { tr -> [Float] in
            let angles = (0..<frequencies).map { Double(scale) * Double(tr) * exp(-log(10000.0) * Double($0) / Double(frequencies)) }
            return angles.map { Float(sin($0)) } + angles.map { Float(cos($0)) }
        }
    }

    /// `[z, emb(t)]` row by row.
    public static func networkInput(_ z: [Float], columns: Int, t: [Float], frequencies: Int) -> [Float] {
        let emb = timeEmbedding(t, frequencies: frequencies), width = 2 * frequencies
        return t.indices.flatMap { r in z[r * columns ..< (r + 1) * columns] + emb[r * width ..< (r + 1) * width] }
    }
}
