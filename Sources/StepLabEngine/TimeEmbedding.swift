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
    /// `emb` (rows x 2F) = emb(t) for `t` (rows x 1); F = `emb.columns / 2`.
    public func timeEmbedding(_ t: Tensor, scale: Float = 1000, into emb: Tensor) throws(OpenCLError) {
        guard emb.columns % 2 == 0 else {
            throw .invalidRequest("timeEmbedding: \(emb.columns) columns is not 2F")
        }
        try requireColumn("timeEmbedding", t, rows: emb.rows)
        // d = 0: the kernel never reads z, so any buffer stands in for it.
        try launch("schedule.cl", "network_input_f32", global: [emb.rows], emb.storage, emb.kernelOffset, Int32(0),
                   t.storage, t.kernelOffset, Int32(emb.columns / 2), scale, emb.storage, emb.kernelOffset)
    }

    /// `tangent` (rows x 2F) = d emb(t)/dt · `dt` from the embedding `emb` itself (rows x 2F) and `dt` (rows x 1).
    public func timeEmbeddingTangent(_ emb: Tensor, timeTangent dt: Tensor, scale: Float = 1000, into tangent: Tensor) throws(OpenCLError) {
        try requireSameShape("timeEmbeddingTangent", emb, tangent)
        guard emb.columns % 2 == 0 else { throw .invalidRequest("timeEmbeddingTangent: \(emb.columns) columns is not 2F") }
        try requireColumn("timeEmbeddingTangent", dt, rows: emb.rows)
        try launch("schedule.cl", "time_embedding_tangent", global: [emb.rows], emb.storage, emb.kernelOffset, dt.storage, dt.kernelOffset,
                   Int32(emb.columns / 2), scale, tangent.storage, tangent.kernelOffset)
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
    /// emb(t) for each t, row-major (t.count x 2F), in Double rounded once.
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
