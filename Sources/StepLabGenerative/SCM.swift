import Foundation
import OpenCLKit
import StepLabEngine

/// sCM's settings (Lu & Song 2024, "Simplifying, Stabilizing and Scaling Continuous-Time Consistency Models";
/// `Kernels/scm.cl`, docs/methods.md).
public struct SCMConfig: Sendable, Equatable, Codable {
    /// The EDM space the TrigFlow model lives in: sigma = sigma_data tan(t), clamped to [sigma_min, sigma_max].
    public var edm = EDMConfig()
    /// The time proposal: ln sigma ~ N(pMean, pStd^2), i.e. t = arctan(e^tau / sigma_data) (the paper's CM proposal).
    public var pMean: Float = -1.0
    public var pStd: Float = 1.6
    /// c of the tangent normalisation g / (||g|| + c).
    public var normalization: Float = 0.1
    /// Iterations of the tangent warm-up: the second term of g is scaled by min(1, step / warmupIterations).
    public var warmupIterations: Int

    /// The adaptive weighting w_phi(t) = a . [cos 2kt, sin 2kt]_{k = 1..4} + b: a smooth function of t with 9 learned
    /// values, carried with the network's parameters (`DenoiserConfig.weighting`).
    public static let weightingFrequencies = 4
    public static var weightingFeatures: Int { 2 * weightingFrequencies }

    /// The paper warms the tangent up over 10k of 400k iterations; short runs get a tenth of their iterations.
    public init(totalIterations: Int) { warmupIterations = Swift.max(1, totalIterations / 10) }

    /// The tangent warm-up factor r at iteration `step`.
    public func warm(at step: Int) -> Float { Swift.min(1, Float(step) / Float(warmupIterations)) }

    /// The noise levels of `steps`-step sampling: sigma_max, then the paper's 2-step intermediate time t = 1.1, and for
    /// more steps times evenly spaced in t below it (t_i = 1.1 (steps - i) / (steps - 1)).
    public func samplingSigmas(steps: Int) -> [Float] {
        [edm.sigmaMax] + (1 ..< Swift.max(1, steps)).map { i in
            edm.sigmaData * Float(Foundation.tan(1.1 * Double(steps - i) / Double(steps - 1)))
        }
    }
}

extension Engine {
    /// One sCM batch from clean rows `x` (see `scm_batch`): sigma and the network's time ln(sigma) / 4, x_sigma, sCT's flow
    /// v, the network input and its tangent (scaled by sin t cos t), and the weighting's features.
    public func scmBatch(_ config: SCMConfig, x: Tensor, timeKey: RandomKey, noiseKey: RandomKey, scale: Float, sigma: Tensor,
                         times: Tensor, noisy: Tensor, velocity: Tensor, input: Tensor, inputTangent: Tensor,
                         features: Tensor) throws(OpenCLError) {
        let extra = input.columns - x.columns, rows = x.rows
        try requireColumn("scmBatch", sigma, times, rows: rows)
        try requireSameShape("scmBatch", x, noisy, velocity)
        guard input.sameShape(as: inputTangent), input.rows == rows, extra > 0, extra % 2 == 0, features.rows == rows,
              features.columns == SCMConfig.weightingFeatures else {
            throw .invalidRequest("scmBatch: input and its tangent must be [x, 2F columns], features rows x \(SCMConfig.weightingFeatures)")
        }
        let (tc, tk) = (timeKey.philoxCounter, timeKey.philoxKey), (ec, ek) = (noiseKey.philoxCounter, noiseKey.philoxKey)
        try launch("scm.cl", "scm_batch", global: [rows], Int32(x.columns), Int32(extra / 2), scale, config.edm.sigmaData,
                   config.edm.sigmaMin, config.edm.sigmaMax, config.pMean, config.pStd, Int32(SCMConfig.weightingFrequencies),
                   x.storage, x.kernelOffset, tc.x, tc.y, tc.z, tc.w, tk.x, tk.y, ec.x, ec.y, ec.z, ec.w, ek.x, ek.y,
                   sigma.storage, sigma.kernelOffset, times.storage, times.kernelOffset, noisy.storage, noisy.kernelOffset,
                   velocity.storage, velocity.kernelOffset, input.storage, input.kernelOffset, inputTangent.storage,
                   inputTangent.kernelOffset, features.storage, features.kernelOffset)
    }

    /// sCD: the teacher's flow -sigma_data N_teacher into `velocity` and the first d columns of `inputTangent`.
    public func scmTeacherFlow(sigmaData: Float, teacherOutput: Tensor, sigma: Tensor, velocity: Tensor,
                               inputTangent: Tensor) throws(OpenCLError) {
        try requireSameShape("scmTeacherFlow", teacherOutput, velocity)
        try requireColumn("scmTeacherFlow", sigma, rows: velocity.rows)
        guard inputTangent.rows == velocity.rows, inputTangent.columns > velocity.columns else {
            throw .invalidRequest("scmTeacherFlow: the input tangent must be rows x (d + 2F)")
        }
        try launch("scm.cl", "scm_teacher_flow", global: [velocity.count], Int32(velocity.columns), Int32(inputTangent.columns),
                   sigmaData, teacherOutput.storage, teacherOutput.kernelOffset, sigma.storage, sigma.kernelOffset,
                   velocity.storage, velocity.kernelOffset, inputTangent.storage, inputTangent.kernelOffset)
    }

    /// Each row's loss e^w m - w into `perSample`, dL/dN into `gradient` and dL/dw into `weightGradient`
    /// (see `scm_loss`); `derivative` is sin t cos t dN/dt, `warm` the tangent warm-up factor.
    public func scmLoss(_ config: SCMConfig, warm: Float, output: Tensor, derivative: Tensor, noisy: Tensor, velocity: Tensor,
                        sigma: Tensor, weight: Tensor, perSample: Tensor, gradient: Tensor, weightGradient: Tensor) throws(OpenCLError) {
        try requireSameShape("scmLoss", output, derivative, noisy, velocity, gradient)
        try requireColumn("scmLoss", sigma, weight, perSample, weightGradient, rows: output.rows)
        try launch("scm.cl", "scm_loss", global: [output.rows], Int32(output.columns), config.edm.sigmaData, 1 / Float(output.rows),
                   warm, config.normalization, output.storage, output.kernelOffset, derivative.storage, derivative.kernelOffset,
                   noisy.storage, noisy.kernelOffset, velocity.storage, velocity.kernelOffset, sigma.storage, sigma.kernelOffset,
                   weight.storage, weight.kernelOffset, perSample.storage, perSample.kernelOffset, gradient.storage,
                   gradient.kernelOffset, weightGradient.storage, weightGradient.kernelOffset)
    }
}

extension Reference {
    /// `scm_batch`'s sigma in float64 from one row's Philox words.
    public static func scmSigma(_ words: (UInt32, UInt32), config: SCMConfig) -> Double {
        let n = Double(boxMuller(words.0, words.1).x)
        return Swift.min(Swift.max(Foundation.exp(Double(config.pMean) + Double(config.pStd) * n), Double(config.edm.sigmaMin)),
                         Double(config.edm.sigmaMax))
    }

    /// `scm_loss` in float64: each row's loss e^w m - w, dL/dN and dL/dw, from the network output N, J = sin t cos t dN/dt,
    /// x_sigma, the flow v, sigma and the adaptive weight w of each row.
    public static func scmLoss(_ config: SCMConfig, warm: Double, output n: [Double], derivative j: [Double], noisy: [Double],
                               velocity v: [Double], sigma: [Double], weight: [Double], columns d: Int)
        -> (perSample: [Double], gradient: [Double], weightGradient: [Double]) {
        let rows = sigma.count, sd = Double(config.edm.sigmaData), c = Double(config.normalization)
        var perSample = [Double](), gradient = [Double](), weightGradient = [Double]()
        for r in 0 ..< rows {
            let radius = (sigma[r] * sigma[r] + sd * sd).squareRoot()
            let (cosine, sine) = (sd / radius, sigma[r] / radius)
            let g = (0 ..< d).map { k in
                let i = r * d + k
                return cosine * cosine * (sd * n[i] + v[i]) - warm * (sine * cosine * cosine * noisy[i] - sd * j[i])
            }
            let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let unit = g.map { $0 / (norm + c) }
            let m = unit.reduce(0) { $0 + $1 * $1 } / Double(d), ew = Foundation.exp(weight[r])
            perSample.append(ew * m - weight[r])
            weightGradient.append((ew * m - 1) / Double(rows))
            gradient += unit.map { 2 * ew * $0 / (Double(d) * Double(rows)) }
        }
        return (perSample, gradient, weightGradient)
    }
}
