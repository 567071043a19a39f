import Foundation
import OpenCLKit
import StepLabEngine

/// Easy Consistency Tuning's settings (Geng, Luo, Pokle, Kolter 2024; locuslab/ect's defaults).
public struct ECTConfig: Sendable, Equatable, Codable {
    public var edm = EDMConfig()
    /// sigma_hi = exp(P_mean + P_std n).
    public var pMean: Float = -1.1
    public var pStd: Float = 2.0
    /// The gap: sigma_lo = sigma_hi (1 - q^-(stage + 1) (1 + k sigmoid(-b sigma_hi))).
    public var q: Float = 2
    public var k: Float = 8
    public var b: Float = 1
    /// Stages over the run: the stage is step * stages / totalIterations.
    public var stages = 8
    /// The run's total iterations.
    public var totalIterations: Int
    /// The adaptive loss sqrt(||delta||^2 + c^2) - c (ECT's p = 0.5 weighting); 0, the code's default, is the L2 norm.
    public var huberC: Float = 0

    public init(totalIterations: Int) { self.totalIterations = totalIterations }

    /// The stage at iteration `step`.
    public func stage(at step: Int) -> Int {
        Swift.min(stages - 1, step * stages / Swift.max(1, totalIterations))
    }

    /// q^-(stage + 1) at iteration `step`.
    public func decay(at step: Int) -> Float { Float(pow(Double(q), -Double(stage(at: step) + 1))) }
}

extension Engine {
    /// ECT's (sigma_hi, sigma_lo) pairs and their weights 1 / (sigma_hi - sigma_lo), one per row (see `ect_pairs`).
    public func ectPairs(_ config: ECTConfig, step: Int, key: RandomKey, sigmaHi: Tensor, sigmaLo: Tensor, weight: Tensor) throws(OpenCLError) {
        try requireColumn("ectPairs", sigmaHi, sigmaLo, weight, rows: sigmaHi.rows)
        let (c, k) = (key.philoxCounter, key.philoxKey)
        try launch("edm.cl", "ect_pairs", global: [sigmaHi.rows], config.pMean, config.pStd, config.edm.sigmaMin, config.edm.sigmaMax,
                   config.decay(at: step), config.k, config.b, c[0], c[1], c[2], c[3], k[0], k[1],
                   sigmaHi.storage, sigmaHi.kernelOffset, sigmaLo.storage, sigmaLo.kernelOffset, weight.storage, weight.kernelOffset)
    }
}

/// Easy Consistency Tuning: a consistency model tuned from an EDM diffusion model over pairs sigma_lo < sigma_hi whose
/// gap shrinks in stages (at first sigma_lo is sigma_min on most rows, which is the diffusion loss), with shared noise:
///   L = 1 / (sigma_hi - sigma_lo) * d(f(x + sigma_hi eps, sigma_hi), sg f(x + sigma_lo eps, sigma_lo))
/// with d the adaptive pseudo-Huber distance and f the CM boundary-scaled EDM denoiser.
public final class ECTObjective: TrainingObjective {
    public let model: Denoiser
    public let edm: EDMModel
    public let config: ECTConfig
    public let key: RandomKey
    public let shard: BatchShard
    let sigmaHi, sigmaLo, weight, perSample, eps, xHi, xLo, fHi, fLo, gradient: Tensor
    let tape, targetTape: Tape

    public init(model: Denoiser, config: ECTConfig, batch: Int, seed: UInt64, firstRow: Int = 0) throws(OpenCLError) {
        let engine = model.engine, d = model.config.dimension
        self.model = model
        self.config = config
        edm = EDMModel(network: model, config: config.edm, boundary: true)
        key = RandomKey(seed: seed)
        shard = BatchShard(firstRow: firstRow, rows: batch)
        func column() throws(OpenCLError) -> Tensor { try engine.tensor(rows: batch, columns: 1) }
        func matrix() throws(OpenCLError) -> Tensor { try engine.tensor(rows: batch, columns: d) }
        sigmaHi = try column(); sigmaLo = try column(); weight = try column(); perSample = try column()
        eps = try matrix(); xHi = try matrix(); xLo = try matrix(); fHi = try matrix(); fLo = try matrix(); gradient = try matrix()
        tape = edm.makeTape()
        targetTape = edm.makeTape()
    }

    public func computeGradients(x0: Tensor, step: Int) throws(OpenCLError) -> Tensor {
        let engine = model.engine, counter = UInt64(step)
        try model.parameters.zeroGradients(engine: engine)
        try engine.ectPairs(config, step: step, key: shard.rowKey(RandomKey(seed: key.seed, stream: .ectPairs, counter: counter)),
                            sigmaHi: sigmaHi, sigmaLo: sigmaLo, weight: weight)
        try engine.normal(into: eps, key: shard.elementKey(RandomKey(seed: key.seed, stream: .ectNoise, counter: counter), columns: eps.columns))
        try engine.edmNoise(x0, eps, sigma: sigmaHi, into: xHi)
        try engine.edmNoise(x0, eps, sigma: sigmaLo, into: xLo)
        try edm.denoise(xLo, sigma: sigmaLo, tape: targetTape, recording: false, into: fLo)
        try edm.denoise(xHi, sigma: sigmaHi, tape: tape, into: fHi)
        try engine.loss(.pseudoHuber(c: config.huberC), prediction: fHi, target: fLo, weights: weight, perSample: perSample, gradient: gradient)
        try edm.backward(gradient, tape: tape)
        return perSample
    }
}

extension Reference {
    /// `ect_pairs` in float64 from one row's Philox words: (sigma_hi, sigma_lo, weight).
    public static func ectPair(_ words: (UInt32, UInt32), config: ECTConfig, step: Int) -> (hi: Double, lo: Double, weight: Double) {
        let n = Double(boxMuller(words.0, words.1).x)
        let smin = Double(config.edm.sigmaMin)
        let t = Swift.min(Swift.max(Foundation.exp(Double(config.pMean) + Double(config.pStd) * n), 2 * smin), Double(config.edm.sigmaMax))
        let sigmoid = 1 / (1 + Foundation.exp(Double(config.b) * t))
        let lo = Swift.max(smin, t * (1 - Double(config.decay(at: step)) * (1 + Double(config.k) * sigmoid)))
        return (t, lo, 1 / (t - lo))
    }
}
