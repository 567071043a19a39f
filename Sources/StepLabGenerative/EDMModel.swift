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

    /// The network output F(c_in x, c_noise) of a new pass on `tape` (what `denoise` scales into D); `sigma` is a column.
    public func networkOutput(_ x: Tensor, sigma: Tensor, tape: Tape, parameters: Tensor? = nil, recording: Bool = false) throws(OpenCLError) -> Tensor {
        try tape.begin(batch: x.rows, parameters: parameters, recording: recording)
        let xin = try tape.allocate(columns: x.columns), cnoise = try tape.allocate(columns: 1)
        try engine.edmPrecondition(x, sigma: sigma, sigmaData: config.sigmaData, into: xin, cNoise: cnoise)
        return try network.forward(xin, t: cnoise, tape: tape)
    }

    /// f(x, sigma) into `out` in a new pass on `tape`; `sigma` is a column (rows x 1).
    public func denoise(_ x: Tensor, sigma: Tensor, tape: Tape, parameters: Tensor? = nil, recording: Bool = true,
                        into out: Tensor) throws(OpenCLError) {
        let net = try networkOutput(x, sigma: sigma, tape: tape, parameters: parameters, recording: recording)
        try engine.edmOutput(x, network: net, sigma: sigma, sigmaData: config.sigmaData, sigmaMin: config.sigmaMin,
                             boundary: boundary, into: out)
        tape.save([sigma], for: self)
    }

    /// Adds dL/dθ for dL/df of the last recorded `denoise` on `tape` into the network's parameter gradients.
    public func backward(_ gradient: Tensor, tape: Tape) throws(OpenCLError) {
        let sigma = try tape.saved(for: self)[0]
        let netGradient = try tape.allocate(columns: gradient.columns)
        try engine.edmOutputGradient(sigma: sigma, outputGradient: gradient, sigmaData: config.sigmaData, sigmaMin: config.sigmaMin,
                                     boundary: boundary, into: netGradient)
        try network.backward(outputGradient: netGradient, tape: tape)
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
        try model.engine.edmToVP(x, sigma: sigma, offset: Float(NoiseSchedule.offset), into: z, t: t)
        try model.predictX(z, t: t, tape: tape, recording: false, into: out)
    }
}
