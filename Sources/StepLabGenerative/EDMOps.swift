import Foundation
import OpenCLKit
import StepLabEngine

/// The deterministic kernels of `Kernels/edm.cl` (EDM sigma space, Karras et al. 2022, with the consistency-model
/// boundary scalings of Song et al. 2023) and the per-row pieces of `Kernels/consistency.cl` (MCM, Heek et al.
/// 2024), each with a plain-Swift twin in `Reference`. Matrices are rows x d; `sigma`, `t`, `s`, `tStep` and
/// the per-row outputs are columns (rows x 1), row r of a matrix using entry r of each column.
extension Engine {
    /// out = x + sigma eps, sigma per row.
    public func edmNoise(_ x: Tensor, _ eps: Tensor, sigma: Tensor, into out: Tensor) throws(OpenCLError) {
        try requireSameShape("edmNoise", x, eps, out)
        try requireColumn("edmNoise", sigma, rows: out.rows)
        try launch("edm.cl", "edm_noise", global: [out.count], Int32(out.columns), x.storage, x.kernelOffset,
                   eps.storage, eps.kernelOffset, sigma.storage, sigma.kernelOffset, out.storage, out.kernelOffset)
    }

    /// The network's inputs: `xin = c_in x` with `c_in = 1 / sqrt(sigma^2 + sd^2)`, and `cNoise = ln(sigma) / 4`
    /// per row, sd = `sigmaData`.
    public func edmPrecondition(_ x: Tensor, sigma: Tensor, sigmaData: Float, into xin: Tensor, cNoise: Tensor) throws(OpenCLError) {
        try requireSameShape("edmPrecondition", x, xin)
        try requireColumn("edmPrecondition", sigma, cNoise, rows: x.rows)
        try launch("edm.cl", "edm_precondition", global: [x.count], Int32(x.columns), sigmaData, x.storage, x.kernelOffset,
                   sigma.storage, sigma.kernelOffset, xin.storage, xin.kernelOffset, cNoise.storage, cNoise.kernelOffset)
    }

    /// The model output `f = c_skip x + c_out F` from the network output F (see `Reference.edmScalings`);
    /// `boundary` selects the consistency-model scalings, for which f(x, sigmaMin) = x.
    public func edmOutput(_ x: Tensor, network: Tensor, sigma: Tensor, sigmaData: Float, sigmaMin: Float, boundary: Bool,
                          into f: Tensor) throws(OpenCLError) {
        try requireSameShape("edmOutput", x, network, f)
        try requireColumn("edmOutput", sigma, rows: f.rows)
        try launch("edm.cl", "edm_output", global: [f.count], Int32(f.columns), sigmaData, sigmaMin, Int32(boundary ? 1 : 0),
                   x.storage, x.kernelOffset, network.storage, network.kernelOffset, sigma.storage, sigma.kernelOffset,
                   f.storage, f.kernelOffset)
    }

    /// dL/dF = c_out dL/df: the adjoint of `edmOutput` with respect to the network output.
    public func edmOutputGradient(sigma: Tensor, outputGradient: Tensor, sigmaData: Float, sigmaMin: Float, boundary: Bool,
                                  into networkGradient: Tensor) throws(OpenCLError) {
        try requireSameShape("edmOutputGradient", outputGradient, networkGradient)
        try requireColumn("edmOutputGradient", sigma, rows: networkGradient.rows)
        try launch("edm.cl", "edm_output_gradient", global: [networkGradient.count], Int32(networkGradient.columns),
                   sigmaData, sigmaMin, Int32(boundary ? 1 : 0), sigma.storage, sigma.kernelOffset,
                   outputGradient.storage, outputGradient.kernelOffset, networkGradient.storage, networkGradient.kernelOffset)
    }

    /// A VP model's inputs for an EDM point (x, sigma): `z = x / sqrt(1 + sigma^2)` and the time with
    /// sigma_t / alpha_t = sigma on the cosine schedule, `t = atan(sigma) (1 + offset) / (pi / 2) - offset`.
    /// t is not clamped here; the schedule clamps it where it is used.
    public func edmToVP(_ x: Tensor, sigma: Tensor, offset: Float = Float(NoiseSchedule.offset), into z: Tensor, t: Tensor) throws(OpenCLError) {
        try requireSameShape("edmToVP", x, z)
        try requireColumn("edmToVP", sigma, t, rows: x.rows)
        try launch("edm.cl", "edm_to_vp", global: [x.count], Int32(x.columns), offset, x.storage, x.kernelOffset,
                   sigma.storage, sigma.kernelOffset, z.storage, z.kernelOffset, t.storage, t.kernelOffset)
    }

    /// An Euler step of the probability-flow ODE dx/dsigma = (x - D) / sigma from `from` to `to` (per row):
    /// `slope = (x - denoised) / from`, `out = x + (to - from) slope`.
    public func edmEulerStep(_ x: Tensor, denoised: Tensor, from: Tensor, to: Tensor, slope: Tensor, into out: Tensor) throws(OpenCLError) {
        try requireSameShape("edmEulerStep", x, denoised, slope, out)
        try requireColumn("edmEulerStep", from, to, rows: out.rows)
        try launch("edm.cl", "edm_euler", global: [out.count], Int32(out.columns), x.storage, x.kernelOffset,
                   denoised.storage, denoised.kernelOffset, from.storage, from.kernelOffset, to.storage, to.kernelOffset,
                   slope.storage, slope.kernelOffset, out.storage, out.kernelOffset)
    }

    /// An Euler step of the probability-flow ODE with the slope (x - D) / from computed from the network output F
    /// (`edm_flow_slope`: no cancellation at small sigma; EDM scalings, no boundary), written to `slope` for Heun.
    public func edmFlowEulerStep(_ x: Tensor, network: Tensor, sigmaData: Float, from: Tensor, to: Tensor, slope: Tensor,
                                 into out: Tensor) throws(OpenCLError) {
        try requireSameShape("edmFlowEulerStep", x, network, slope, out)
        try requireColumn("edmFlowEulerStep", from, to, rows: out.rows)
        try launch("edm.cl", "edm_flow_euler", global: [out.count], Int32(out.columns), sigmaData, x.storage, x.kernelOffset,
                   network.storage, network.kernelOffset, from.storage, from.kernelOffset, to.storage, to.kernelOffset,
                   slope.storage, slope.kernelOffset, out.storage, out.kernelOffset)
    }

    /// Heun's correction of an `edmFlowEulerStep` from F at (xEuler, to): `out = x + (to - from) (slope + slope2) / 2`.
    /// `out` may be `x`.
    public func edmFlowHeunStep(_ x: Tensor, slope: Tensor, xEuler: Tensor, network: Tensor, sigmaData: Float, from: Tensor, to: Tensor,
                                into out: Tensor) throws(OpenCLError) {
        try requireSameShape("edmFlowHeunStep", x, slope, xEuler, network, out)
        try requireColumn("edmFlowHeunStep", from, to, rows: out.rows)
        try launch("edm.cl", "edm_flow_heun", global: [out.count], Int32(out.columns), sigmaData, x.storage, x.kernelOffset,
                   slope.storage, slope.kernelOffset, xEuler.storage, xEuler.kernelOffset, network.storage, network.kernelOffset,
                   from.storage, from.kernelOffset, to.storage, to.kernelOffset, out.storage, out.kernelOffset)
    }

    /// Heun's correction of an `edmEulerStep`: `out = x + (to - from) (slope + (xEuler - denoised) / to) / 2`,
    /// `denoised` = D(xEuler, to). `to` must be positive. `out` may be `x` (each element reads only its own x).
    public func edmHeunStep(_ x: Tensor, slope: Tensor, xEuler: Tensor, denoised: Tensor, from: Tensor, to: Tensor,
                            into out: Tensor) throws(OpenCLError) {
        try requireSameShape("edmHeunStep", x, slope, xEuler, denoised, out)
        try requireColumn("edmHeunStep", from, to, rows: out.rows)
        try launch("edm.cl", "edm_heun", global: [out.count], Int32(out.columns), x.storage, x.kernelOffset,
                   slope.storage, slope.kernelOffset, xEuler.storage, xEuler.kernelOffset, denoised.storage, denoised.kernelOffset,
                   from.storage, from.kernelOffset, to.storage, to.kernelOffset, out.storage, out.kernelOffset)
    }

    /// EDM's loss weight `lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2` per row.
    public func edmLossWeight(sigma: Tensor, sigmaData: Float, into weight: Tensor) throws(OpenCLError) {
        try requireColumn("edmLossWeight", sigma, weight, rows: sigma.rows)
        try launch("edm.cl", "edm_loss_weight", global: [weight.rows], sigmaData, sigma.storage, sigma.kernelOffset,
                   weight.storage, weight.kernelOffset)
    }

    /// MCM's regression target (Algorithm 1) `invDDIM_{t -> tStep}(DDIM_{s -> tStep}(xref, z_s), z_t)` and its
    /// weight `SNR(t) + 1 = 1 / sigma_t^2`. Needs t - tStep > 0 per row (`mcm_times` keeps it >= 1 / T); the
    /// inverse step's denominator is not guarded.
    public func mcmTarget(xref: Tensor, zs: Tensor, zt: Tensor, t: Tensor, s: Tensor, tStep: Tensor,
                          into target: Tensor, weight: Tensor) throws(OpenCLError) {
        try requireSameShape("mcmTarget", xref, zs, zt, target)
        try requireColumn("mcmTarget", t, s, tStep, weight, rows: target.rows)
        try launch("consistency.cl", "mcm_target", global: [target.rows], Int32(target.columns), xref.storage, xref.kernelOffset,
                   zs.storage, zs.kernelOffset, zt.storage, zt.kernelOffset, t.storage, t.kernelOffset, s.storage, s.kernelOffset,
                   tStep.storage, tStep.kernelOffset, target.storage, target.kernelOffset, weight.storage, weight.kernelOffset)
    }

    /// `out = eta |a - b|^2 / d` per row: MCM's empirical posterior variance for the aDDIM teacher step.
    public func rowVariance(_ a: Tensor, _ b: Tensor, eta: Float, into out: Tensor) throws(OpenCLError) {
        try requireSameShape("rowVariance", a, b)
        try requireColumn("rowVariance", out, rows: a.rows)
        try launch("consistency.cl", "row_variance", global: [a.rows], Int32(a.columns), eta, a.storage, a.kernelOffset,
                   b.storage, b.kernelOffset, out.storage, out.kernelOffset)
    }
}

/// Host twins of the EDM and MCM kernels in float64, rounded once. Arrays are row-major; per-row inputs hold one
/// value per row and `columns` is d.
extension Reference {
    /// The EDM scalings at `sigma`: c_skip, c_out, c_in = 1 / sqrt(sigma^2 + sd^2) and c_noise = ln(sigma) / 4.
    /// With `boundary` (CM App. C), c_skip and c_out use sigma - sigmaMin in place of sigma (c_in's sigma stays),
    /// so c_skip(sigmaMin) = 1 and c_out(sigmaMin) = 0.
    public static func edmScalings(sigma: Double, sigmaData sd: Double, sigmaMin: Double, boundary: Bool)
        -> (skip: Double, out: Double, input: Double, noise: Double) {
        let shifted = boundary ? sigma - sigmaMin : sigma
        let norm = (sigma * sigma + sd * sd).squareRoot()
        return (sd * sd / (shifted * shifted + sd * sd), shifted * sd / norm, 1 / norm, log(sigma) / 4)
    }

    /// `x + sigma eps`.
    public static func edmNoise(_ x: [Float], _ eps: [Float], sigma: [Float], columns: Int) -> [Float] {
        x.indices.map { Float(Double(x[$0]) + Double(sigma[$0 / columns]) * Double(eps[$0])) }
    }

    /// `(c_in x, ln(sigma) / 4)`.
    public static func edmPrecondition(_ x: [Float], sigma: [Float], columns: Int, sigmaData: Float) -> (xin: [Float], cNoise: [Float]) {
        func scalings(_ s: Float) -> (skip: Double, out: Double, input: Double, noise: Double) {
            edmScalings(sigma: Double(s), sigmaData: Double(sigmaData), sigmaMin: 0, boundary: false)
        }
        return (x.indices.map { Float(scalings(sigma[$0 / columns]).input * Double(x[$0])) }, sigma.map { Float(scalings($0).noise) })
    }

    /// `c_skip x + c_out F`.
    public static func edmOutput(_ x: [Float], network: [Float], sigma: [Float], columns: Int, sigmaData: Float, sigmaMin: Float,
                                 boundary: Bool) -> [Float] {
        edmOutput(x.map(Double.init), network: network.map(Double.init), sigma: sigma.map(Double.init), columns: columns,
                  sigmaData: Double(sigmaData), sigmaMin: Double(sigmaMin), boundary: boundary).map(Float.init)
    }

    /// `edmOutput` entirely in float64 (for finite differences).
    public static func edmOutput(_ x: [Double], network: [Double], sigma: [Double], columns: Int, sigmaData: Double, sigmaMin: Double,
                                 boundary: Bool) -> [Double] {
        x.indices.map { i in
            let c = edmScalings(sigma: sigma[i / columns], sigmaData: sigmaData, sigmaMin: sigmaMin, boundary: boundary)
            return c.skip * x[i] + c.out * network[i]
        }
    }

    /// `c_out dL/df`.
    public static func edmOutputGradient(sigma: [Float], outputGradient: [Float], columns: Int, sigmaData: Float, sigmaMin: Float,
                                         boundary: Bool) -> [Float] {
        outputGradient.indices.map { i in
            let c = edmScalings(sigma: Double(sigma[i / columns]), sigmaData: Double(sigmaData), sigmaMin: Double(sigmaMin), boundary: boundary)
            return Float(c.out * Double(outputGradient[i]))
        }
    }

    /// `(x / sqrt(1 + sigma^2), atan(sigma) (1 + offset) / (pi / 2) - offset)`.
    public static func edmToVP(_ x: [Float], sigma: [Float], columns: Int, offset: Double = NoiseSchedule.offset) -> (z: [Float], t: [Float]) {
        let z = x.indices.map { i in
            let s = Double(sigma[i / columns])
            return Float(Double(x[i]) / (1 + s * s).squareRoot())
        }
        return (z, sigma.map { Float(atan(Double($0)) * (1 + offset) / (Double.pi / 2) - offset) })
    }

    /// `(slope, out)` of the Euler step: `slope = (x - denoised) / from`, `out = x + (to - from) slope`.
    public static func edmEulerStep(_ x: [Float], denoised: [Float], from: [Float], to: [Float], columns: Int) -> (slope: [Float], out: [Float]) {
        let slope = x.indices.map { (Double(x[$0]) - Double(denoised[$0])) / Double(from[$0 / columns]) }
        let out = x.indices.map { i in Float(Double(x[i]) + (Double(to[i / columns]) - Double(from[i / columns])) * slope[i]) }
        return (slope.map(Float.init), out)
    }

    /// The slope (x - D) / sigma from the network output F in float64 (see `edm_flow_slope`).
    public static func edmFlowSlope(_ x: Double, network: Double, sigma s: Double, sigmaData sd: Double) -> Double {
        s * x / (s * s + sd * sd) - sd * network / (s * s + sd * sd).squareRoot()
    }

    /// `x + (to - from) (slope + (xEuler - denoised) / to) / 2`.
    public static func edmHeunStep(_ x: [Float], slope: [Float], xEuler: [Float], denoised: [Float], from: [Float], to: [Float],
                                   columns: Int) -> [Float] {
        x.indices.map { i in
            let st = Double(to[i / columns]), sf = Double(from[i / columns])
            let g2 = (Double(xEuler[i]) - Double(denoised[i])) / st
            return Float(Double(x[i]) + (st - sf) * 0.5 * (Double(slope[i]) + g2))
        }
    }

    /// `(sigma^2 + sd^2) / (sigma sd)^2`.
    public static func edmLossWeight(sigma: [Float], sigmaData: Float) -> [Float] {
        let sd = Double(sigmaData)
        return sigma.map { value in
            let s = Double(value)
            return Float((s * s + sd * sd) / (s * s * sd * sd))
        }
    }

    /// MCM's target `invDDIM_{t -> tStep}(DDIM_{s -> tStep}(xref, z_s), z_t)` and weight `1 / sigma_t^2`, from
    /// `NoiseSchedule`. Its inverse-DDIM guard, which the kernel lacks, only engages for t - tStep below about 1e-6.
    public static func mcmTarget(xref: [Float], zs: [Float], zt: [Float], t: [Float], s: [Float], tStep: [Float],
                                 columns: Int) -> (target: [Float], weight: [Float]) {
        let target = xref.indices.map { i in
            let r = i / columns
            let toStep = NoiseSchedule.ddimCoefficients(t: Double(s[r]), s: Double(tStep[r]))
            let zref = toStep.xhat * Double(xref[i]) + toStep.zt * Double(zs[i])
            let back = NoiseSchedule.inverseDDIMCoefficients(t: Double(t[r]), s: Double(tStep[r]))
            return Float(back.zs * zref + back.zt * Double(zt[i]))
        }
        let weight = t.map { value in
            let sigma = NoiseSchedule.sigma(Double(value))
            return Float(1 / (sigma * sigma))
        }
        return (target, weight)
    }

    /// `eta |a - b|^2 / d` per row.
    public static func rowVariance(_ a: [Float], _ b: [Float], columns: Int, eta: Float) -> [Float] {
        (0 ..< a.count / columns).map { r in
            let sum = (r * columns ..< (r + 1) * columns).reduce(0.0) { total, i in
                let e = Double(a[i]) - Double(b[i])
                return total + e * e
            }
            return Float(Double(eta) * sum / Double(columns))
        }
    }
}
