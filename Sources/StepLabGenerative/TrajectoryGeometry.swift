import Foundation
import StepLabEngine

/// Shape measurements of sampling trajectories and the exact probability-flow ODE of Gaussian mixtures, used
/// by the study's diagnostics (pure host functions, in float64).
public enum TrajectoryGeometry {
    /// Path length over chord length of one polyline (1 for a straight line, more for a curved one).
    public static func pathOverChord(_ points: [[Double]]) -> Double {
        guard points.count >= 2 else { return 1 }
        var length = 0.0
        for k in 1 ..< points.count { length += distance(points[k - 1], points[k]) }
        return length / Swift.max(distance(points[0], points[points.count - 1]), 1e-12)
    }

    public static func distance(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
    }

    /// E[x | z_t] on the VP cosine schedule for an equal-weight mixture of axis-aligned Gaussians
    /// (component means `means`, per-dimension standard deviation `stds`).
    public static func posteriorMean(_ z: [Double], t: Double, means: [[Double]], stds: [Double]) -> [Double] {
        posteriorMean(z, alpha: NoiseSchedule.alpha(t), sigma: NoiseSchedule.sigma(t), means: means, stds: stds)
    }

    /// E[x | alpha x + sigma n] for the mixture; alpha = 1 is EDM's sigma space.
    public static func posteriorMean(_ z: [Double], alpha a: Double, sigma sg: Double, means: [[Double]], stds: [Double]) -> [Double] {
        var logWeights: [Double] = [], conditional: [[Double]] = []
        for mean in means {
            var logp = 0.0
            var m: [Double] = []
            for j in z.indices {
                let variance = a * a * stds[j] * stds[j] + sg * sg
                let e = z[j] - a * mean[j]
                logp += -0.5 * e * e / variance - 0.5 * log(variance)
                m.append(mean[j] + a * stds[j] * stds[j] * e / variance)
            }
            logWeights.append(logp)
            conditional.append(m)
        }
        let top = logWeights.max()!
        let weights = logWeights.map { exp($0 - top) }
        let total = weights.reduce(0, +)
        return z.indices.map { j in zip(weights, conditional).map { $0 * $1[j] }.reduce(0, +) / total }
    }

    /// The probability-flow ODE map from z_1 to the data for a Gaussian mixture: DDIM with the exact posterior
    /// mean (a first-order integrator of the ODE, error ~ 1 / steps) at `steps` and 2 `steps`, combined by
    /// Richardson extrapolation (2 m_2N - m_N) to cancel the first-order error.
    public static func exactMap(_ start: [Double], means: [[Double]], stds: [Double], steps: Int = 2048) -> [Double] {
        let coarse = ddimMap(start, means: means, stds: stds, steps: steps)
        let fine = ddimMap(start, means: means, stds: stds, steps: 2 * steps)
        return zip(coarse, fine).map { 2 * $1 - $0 }
    }

    /// The EDM probability-flow ODE map (Karras et al. 2022, dx/dsigma = (x - D(x; sigma)) / sigma) from x at
    /// `sigmaMax` to the data for a Gaussian mixture, as a one-step consistency model samples it: DDIM in sigma
    /// space, x <- D + (sigma' / sigma) (x - D), on the Karras grid (rho 7) down to `sigmaMin` and then D itself, at
    /// `steps` and 2 `steps`, Richardson-extrapolated.
    public static func exactEDMMap(_ start: [Double], sigmaMax: Double, sigmaMin: Double, means: [[Double]], stds: [Double],
                                   steps: Int = 2048) -> [Double] {
        let coarse = edmDDIMMap(start, sigmaMax: sigmaMax, sigmaMin: sigmaMin, means: means, stds: stds, steps: steps)
        let fine = edmDDIMMap(start, sigmaMax: sigmaMax, sigmaMin: sigmaMin, means: means, stds: stds, steps: 2 * steps)
        return zip(coarse, fine).map { 2 * $1 - $0 }
    }

    /// DDIM in EDM's sigma space with the exact posterior mean over `steps` Karras steps from `sigmaMax`.
    public static func edmDDIMMap(_ start: [Double], sigmaMax: Double, sigmaMin: Double, means: [[Double]], stds: [Double],
                                  steps: Int) -> [Double] {
        let sigmas = NoiseSchedule.karrasSigmas(count: steps, sigmaMin: sigmaMin, sigmaMax: sigmaMax, rho: 7).sorted(by: >)
        var x = start
        for (i, sigma) in sigmas.enumerated() {
            let denoised = posteriorMean(x, alpha: 1, sigma: sigma, means: means, stds: stds)
            guard i + 1 < sigmas.count else { return denoised }
            let ratio = sigmas[i + 1] / sigma
            x = x.indices.map { denoised[$0] + ratio * (x[$0] - denoised[$0]) }
        }
        return x
    }

    /// DDIM from z_1 with the exact posterior mean over `steps` steps.
    public static func ddimMap(_ start: [Double], means: [[Double]], stds: [Double], steps: Int) -> [Double] {
        var z = start
        for i in stride(from: steps, through: 1, by: -1) {
            let t = Double(i) / Double(steps), s = Double(i - 1) / Double(steps)
            let xhat = posteriorMean(z, t: t, means: means, stds: stds)
            if i == 1 { return xhat }
            let (cx, cz) = NoiseSchedule.ddimCoefficients(t: t, s: s)
            z = z.indices.map { cx * xhat[$0] + cz * z[$0] }
        }
        return z
    }
}
