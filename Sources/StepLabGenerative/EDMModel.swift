import Foundation
import OpenCLKit
import StepLabEngine

/// Constants of the EDM sigma space (Karras et al. 2022; CM and iCT use the same).
public struct EDMConfig: Sendable, Equatable, Codable {
    /// sigma_data: the data's standard deviation. StepLab standardises data to unit variance, hence 1.
    public var sigmaData: Float = 1
    public var sigmaMin: Float = 0.002
    public var sigmaMax: Float = 80
    public var rho: Double = 7
    public init(sigmaData: Float = 1, sigmaMin: Float = 0.002, sigmaMax: Float = 80, rho: Double = 7) {
        self.sigmaData = sigmaData; self.sigmaMin = sigmaMin; self.sigmaMax = sigmaMax; self.rho = rho
    }

    /// The ascending Karras grid sigma_1 < ... < sigma_N (CM Eq. 5 / iCT).
    public func karrasGrid(count: Int) -> [Float] {
        NoiseSchedule.karrasSigmas(count: count, sigmaMin: Double(sigmaMin), sigmaMax: Double(sigmaMax), rho: rho)
            .map(Float.init).sorted()
    }
}

/// A denoiser in EDM sigma space: f(x, sigma) = c_skip x + c_out F([c_in x, emb(c_noise)]) (`Kernels/edm.cl`).
/// With `boundary` the consistency-model scalings make f(x, sigma_min) = x exactly.
public final class EDMModel {
    public let network: Denoiser
    public let config: EDMConfig
    public let boundary: Bool
    public var engine: Engine { network.engine }

    public init(network: Denoiser, config: EDMConfig, boundary: Bool) {
        self.network = network; self.config = config; self.boundary = boundary
    }

    /// A tape for one call site of `denoise`.
    public func makeTape() -> Tape { network.makeTape() }

    var flag: Int32 { boundary ? 1 : 0 }

    /// f(x, sigma) into `out` in a new pass on `tape`; `sigma` is a column (rows x 1).
    public func denoise(_ x: Tensor, sigma: Tensor, tape: Tape, parameters: Tensor? = nil, recording: Bool = true,
                        into out: Tensor) throws(OpenCLError) {
        let d = Int32(x.columns)
        try tape.begin(batch: x.rows, parameters: parameters, recording: recording)
        let xin = try tape.allocate(columns: x.columns), cnoise = try tape.allocate(columns: 1)
        try engine.launch("edm.cl", "edm_precondition", global: [x.count], d, config.sigmaData,
                          x.storage, x.kernelOffset, sigma.storage, sigma.kernelOffset, xin.storage,
                          xin.kernelOffset, cnoise.storage, cnoise.kernelOffset)
        let net = try network.forward(xin, t: cnoise, tape: tape)
        try engine.launch("edm.cl", "edm_output", global: [x.count], d, config.sigmaData, config.sigmaMin,
                          flag, x.storage, x.kernelOffset, net.storage, net.kernelOffset, sigma.storage, sigma.kernelOffset,
                          out.storage, out.kernelOffset)
        tape.save([sigma], for: self)
    }

    /// Adds dL/dθ for dL/df of the last recorded `denoise` on `tape` into the network's parameter gradients.
    public func backward(_ gradient: Tensor, tape: Tape) throws(OpenCLError) {
        let sigma = try tape.saved(for: self)[0]
        let netGradient = try tape.allocate(columns: gradient.columns)
        try engine.launch("edm.cl", "edm_output_gradient", global: [gradient.count], Int32(gradient.columns),
                          config.sigmaData, config.sigmaMin, flag, sigma.storage, sigma.kernelOffset,
                          gradient.storage, gradient.kernelOffset, netGradient.storage, netGradient.kernelOffset)
        try network.backward(outputGradient: netGradient, tape: tape)
    }
}

extension Engine {
    /// out = x + sigma eps, sigma per row.
    public func edmNoise(_ x: Tensor, _ eps: Tensor, sigma: Tensor, into out: Tensor) throws(OpenCLError) {
        try launch("edm.cl", "edm_noise", global: [x.count], Int32(x.columns), x.storage, x.kernelOffset,
                   eps.storage, eps.kernelOffset, sigma.storage, sigma.kernelOffset, out.storage, out.kernelOffset)
    }
}

/// A VP-schedule diffusion model used as an EDM denoiser D(x, sigma) (for distillation with a Heun teacher):
/// z = x / sqrt(1 + sigma^2) at the t where sigma_t / alpha_t = sigma.
public final class VPAsEDMDenoiser {
    public let model: Denoiser
    let z, t: Tensor
    let tape: Tape
    public init(model: Denoiser, batch: Int) throws(OpenCLError) {
        self.model = model
        z = try model.engine.tensor(rows: batch, columns: model.config.dimension)
        t = try model.engine.tensor(rows: batch, columns: 1)
        tape = model.makeTape()
    }

    public func denoise(_ x: Tensor, sigma: Tensor, into out: Tensor) throws(OpenCLError) {
        try model.engine.launch("edm.cl", "edm_to_vp", global: [x.count], Int32(x.columns),
                                Float(NoiseSchedule.offset), x.storage, x.kernelOffset, sigma.storage, sigma.kernelOffset,
                                z.storage, z.kernelOffset, t.storage, t.kernelOffset)
        try model.predictX(z, t: t, tape: tape, recording: false, into: out)
    }
}
