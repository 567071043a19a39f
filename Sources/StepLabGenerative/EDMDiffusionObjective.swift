import Foundation
import OpenCLKit
import StepLabEngine

/// EDM diffusion training (Karras et al. 2022): ln sigma ~ N(P_mean, P_std^2), D = c_skip x + c_out F with the
/// non-boundary scalings, loss lambda(sigma) |D(x + sigma eps, sigma) - x|^2, lambda = (sigma^2 + sd^2) / (sigma sd)^2.
public final class EDMDiffusionObjective: TrainingObjective {
    public let model: Denoiser
    public let edm: EDMModel
    public let pMean: Float, pStd: Float
    public let key: RandomKey
    /// The rows of the step's global batch this objective computes (all of them unless data-parallel).
    public let shard: BatchShard
    let sigma, weight, perSample, eps, noisy, denoised, gradient: Tensor
    let tape: Tape

    public init(model: Denoiser, config: EDMConfig = EDMConfig(), batch: Int, pMean: Float = -1.2, pStd: Float = 1.2,
                seed: UInt64, firstRow: Int = 0) throws(OpenCLError) {
        let engine = model.engine, d = model.config.dimension
        self.model = model
        edm = EDMModel(network: model, config: config, boundary: false)
        self.pMean = pMean; self.pStd = pStd
        key = RandomKey(seed: seed)
        shard = BatchShard(firstRow: firstRow, rows: batch)
        sigma = try engine.tensor(rows: batch, columns: 1); weight = try engine.tensor(rows: batch, columns: 1)
        perSample = try engine.tensor(rows: batch, columns: 1)
        eps = try engine.tensor(rows: batch, columns: d); noisy = try engine.tensor(rows: batch, columns: d)
        denoised = try engine.tensor(rows: batch, columns: d); gradient = try engine.tensor(rows: batch, columns: d)
        tape = edm.makeTape()
    }

    public func computeGradients(x0: Tensor, step: Int) throws(OpenCLError) -> Tensor {
        let engine = model.engine
        let counter = UInt64(step)
        try model.parameters.zeroGradients(engine: engine)
        try engine.lognormal(into: sigma, key: shard.elementKey(RandomKey(seed: key.seed, stream: .edmSigma, counter: counter), columns: 1),
                             mean: pMean, std: pStd)
        try engine.normal(into: eps, key: shard.elementKey(RandomKey(seed: key.seed, stream: .edmNoise, counter: counter), columns: eps.columns))
        try engine.edmNoise(x0, eps, sigma: sigma, into: noisy)
        try engine.edmLossWeight(sigma: sigma, sigmaData: edm.config.sigmaData, into: weight)
        try edm.denoise(noisy, sigma: sigma, tape: tape, into: denoised)
        try engine.loss(.squaredError, prediction: denoised, target: x0, weights: weight, perSample: perSample, gradient: gradient)
        try edm.backward(gradient, tape: tape)
        return perSample
    }
}
