import OpenCLKit
import StepLabEngine

/// What the network's output means.
public enum Prediction: Int32, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case eps = 0, x = 1, v = 2
    public var description: String { switch self { case .eps: "eps"; case .x: "x"; case .v: "v" } }
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }
}

/// Per-sample weight of the diffusion regression loss.
public enum DiffusionWeighting: Int32, Sendable, Codable {
    /// Plain mean squared error of the output.
    case none = 0
    /// w = SNR + 1 = 1 / sigma^2; with x-prediction this is the v-loss (MCM Sec. 3).
    case snrPlusOne = 1
}

extension Engine {
    /// The regression target for `prediction` and the per-row loss weight at times `t` (`Kernels/diffusion.cl`).
    public func diffusionTarget(_ prediction: Prediction, weighting: DiffusionWeighting, x: Tensor, eps: Tensor, t: Tensor,
                                target: Tensor, weight: Tensor) throws(OpenCLError) {
        guard x.sameShape(as: eps), x.sameShape(as: target), t.count == x.rows, weight.count == x.rows else {
            throw .invalidRequest("diffusionTarget: x, eps, target must match and t, weight need one value per row")
        }
        try launch("diffusion.cl", "diffusion_target", global: [x.rows], prediction.rawValue,
                   weighting.rawValue, Int32(x.columns), t.storage, t.kernelOffset, x.storage, x.kernelOffset,
                   eps.storage, eps.kernelOffset, target.storage, target.kernelOffset, weight.storage, weight.kernelOffset)
    }

    /// A whole diffusion training batch in one launch (`Kernels/diffusion_batch.cl`): t ~ U(0, 1)
    /// drawn with `timeKey` into `t` (batch x 1), eps ~ N(0, I) with `noiseKey` (into `eps` when given), the
    /// network input [alpha x + sigma eps, emb(scale t)] into `input`, and the regression target and weight.
    /// The same numbers as `uniform`, `normal`, `addNoise`, `networkInput` and `diffusionTarget` in sequence.
    public func diffusionBatch(_ prediction: Prediction, weighting: DiffusionWeighting, x: Tensor, timeKey: RandomKey, noiseKey: RandomKey,
                               scale: Float, t: Tensor, eps: Tensor? = nil, input: Tensor, target: Tensor, weight: Tensor) throws(OpenCLError) {
        let extra = input.columns - x.columns
        guard x.sameShape(as: target), eps.map({ $0.sameShape(as: x) }) ?? true, t.count == x.rows, weight.count == x.rows,
              input.rows == x.rows, extra > 0, extra % 2 == 0 else {
            throw .invalidRequest("diffusionBatch: x, target (and eps) must match, t and weight need one value per row, "
                                  + "input must be [x, 2F columns]")
        }
        let (tc, tk) = (timeKey.philoxCounter, timeKey.philoxKey), (ec, ek) = (noiseKey.philoxCounter, noiseKey.philoxKey)
        let epsOut = eps ?? target
        try launch("diffusion_batch.cl", "diffusion_batch", global: [(x.rows + 3) / 4], Int32(x.rows), prediction.rawValue,
                   weighting.rawValue, Int32(x.columns), Int32(extra / 2), scale, x.storage, x.kernelOffset,
                   tc.x, tc.y, tc.z, tc.w, tk.x, tk.y, ec.x, ec.y, ec.z, ec.w, ek.x, ek.y, t.storage, t.kernelOffset,
                   epsOut.storage, epsOut.kernelOffset, Int32(eps == nil ? 0 : 1), input.storage, input.kernelOffset,
                   target.storage, target.kernelOffset, weight.storage, weight.kernelOffset)
    }

    /// dL/d(output) from dL/d(xhat) through `predictionToX` (which is linear in the output).
    public func predictionGradient(_ prediction: Prediction, t: Tensor, xGradient: Tensor, into outputGradient: Tensor) throws(OpenCLError) {
        guard xGradient.sameShape(as: outputGradient), t.count == xGradient.rows else {
            throw .invalidRequest("predictionGradient: gradients must match and t needs one value per row")
        }
        try launch("diffusion.cl", "prediction_gradient", global: [xGradient.count],
                   prediction.rawValue, Int32(xGradient.columns), t.storage, t.kernelOffset,
                   xGradient.storage, xGradient.kernelOffset, outputGradient.storage, outputGradient.kernelOffset)
    }

    /// The x-prediction implied by network output `output` at (`z`, `t`), clamped to [-clip, clip] when clip > 0.
    public func predictionToX(_ prediction: Prediction, output: Tensor, z: Tensor, t: Tensor, clip: Float = 0,
                              into xhat: Tensor) throws(OpenCLError) {
        guard output.sameShape(as: z), z.sameShape(as: xhat), t.count == z.rows else {
            throw .invalidRequest("predictionToX: output, z and xhat must match and t needs one value per row")
        }
        try launch("diffusion.cl", "prediction_to_x", global: [z.count], prediction.rawValue,
                   Int32(z.columns), clip, t.storage, t.kernelOffset, z.storage, z.kernelOffset,
                   output.storage, output.kernelOffset, xhat.storage, xhat.kernelOffset)
    }
}
