import Foundation
import OpenCLKit
import StepLabEngine

/// Samplers for EDM sigma-space models: Euler and Heun over the Karras grid for diffusion (Karras et al.
/// 2022, Algorithm 1), and one-step or multistep consistency sampling with re-noising (CM Algorithm 1).
public final class EDMSampler {
    /// The ODE solver of diffusion sampling.
    public enum Solver: String, Sendable, Codable, CaseIterable { case euler, heun }

    public let model: EDMModel
    public var engine: Engine { model.engine }
    /// Keeps its arena between calls: at large batches a pass's tensors are hundreds of MB, and allocating
    /// (and first touching) them on every call costs as much as a network evaluation.
    private let tape: Tape

    public init(model: EDMModel) {
        self.model = model
        tape = model.makeTape()
        tape.timesShared = true  // every step fills its times column with one value
    }

    /// Diffusion sampling from `noise` (unit normal, n x d) with `steps` steps down a Karras grid to 0.
    /// Heun uses 2 evaluations per step except the last (to sigma = 0), which is an Euler step.
    public func sample(noise: Tensor, steps: Int, solver: Solver = .heun, parameters: Tensor? = nil) throws(OpenCLError) -> (samples: Tensor, evaluations: Int) {
        guard steps >= 1 else { throw .invalidRequest("sampling needs at least one step (got \(steps))") }
        let n = noise.rows, d = noise.columns
        let sigmas = Array(model.config.karrasGrid(count: Swift.max(steps, 2)).reversed().prefix(steps)) + [0]
        let x = try engine.tensor(rows: n, columns: d), next = try engine.tensor(rows: n, columns: d)
        let slope = try engine.tensor(rows: n, columns: d)
        let from = try engine.tensor(rows: n, columns: 1), to = try engine.tensor(rows: n, columns: 1)
        try engine.scale(sigmas[0], noise, into: x)
        var evaluations = 0
        guard !model.boundary else { throw .invalidRequest("diffusion sampling needs the EDM scalings, not the consistency boundary's") }
        let sd = model.config.sigmaData
        for i in 0 ..< steps {
            try engine.fill(from, sigmas[i])
            try engine.fill(to, sigmas[i + 1])
            // The slopes come from the network output itself (edm_flow_slope), never from x - D.
            let net = try model.networkOutput(x, sigma: from, tape: tape, parameters: parameters)
            evaluations += 1
            try engine.edmFlowEulerStep(x, network: net, sigmaData: sd, from: from, to: to, slope: slope, into: next)
            if solver == .heun && sigmas[i + 1] > 0 {
                let corrected = try model.networkOutput(next, sigma: to, tape: tape, parameters: parameters)
                evaluations += 1
                try engine.edmFlowHeunStep(x, slope: slope, xEuler: next, network: corrected, sigmaData: sd, from: from, to: to, into: x)
            } else {
                try x.storage.copy(from: next.storage, sourceOffset: next.offset, offset: x.offset, length: x.count)
            }
        }
        return (x, evaluations)
    }

    /// Consistency sampling in `steps` evaluations: x = f(sigma_max z, sigma_max), then for each further
    /// noise level tau of a Karras grid, x = f(x + sqrt(tau^2 - sigma_min^2) z', tau) with fresh noise z'
    /// drawn from `key` (CM Algorithm 1).
    public func sampleConsistency(noise: Tensor, steps: Int, key: RandomKey, parameters: Tensor? = nil) throws(OpenCLError) -> Tensor {
        guard steps >= 1 else { throw .invalidRequest("sampling needs at least one step (got \(steps))") }
        return try sampleConsistency(noise: noise, sigmas: Array(model.config.karrasGrid(count: steps + 1).reversed().prefix(steps)),
                                     key: key, parameters: parameters)
    }

    /// Consistency sampling at the descending noise levels `taus`: x = f(tau_0 z, tau_0), then x = f(x + s z', tau) with
    /// s = sqrt(tau^2 - sigma_min^2) for a model with the consistency boundary (its f(., sigma_min) is the data) and
    /// s = tau without it (sCM's x_t = cos t x + sin t z', that is x + tau z' at tau = tan t).
    public func sampleConsistency(noise: Tensor, sigmas taus: [Float], key: RandomKey, parameters: Tensor? = nil) throws(OpenCLError) -> Tensor {
        guard !taus.isEmpty else { throw .invalidRequest("sampling needs at least one noise level") }
        let n = noise.rows, d = noise.columns
        let x = try engine.tensor(rows: n, columns: d), noisy = try engine.tensor(rows: n, columns: d)
        let fresh = try engine.tensor(rows: n, columns: d), sigma = try engine.tensor(rows: n, columns: 1)
        try engine.scale(taus[0], noise, into: noisy)
        for (k, tau) in taus.enumerated() {
            if k > 0 {
                try engine.normal(into: fresh, key: key.at(counter: UInt64(k)))
                let minimum = model.boundary ? model.config.sigmaMin : 0
                try engine.axpby(1, x, (tau * tau - minimum * minimum).squareRoot(), fresh, into: noisy)
            }
            try engine.fill(sigma, tau)
            try model.denoise(noisy, sigma: sigma, tape: tape, parameters: parameters, recording: false, into: x)
        }
        return x
    }
}
