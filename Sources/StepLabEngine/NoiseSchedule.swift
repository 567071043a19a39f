import Foundation

/// The variance-preserving cosine schedule of Nichol & Dhariwal (2021) and the DDIM algebra on it
/// (Multistep Consistency Models, Heek et al. 2024, Eq. 4-5), in Double for host code and as the reference
/// for `Kernels/schedule.cl`. Also the EDM/Karras sigma grid (Karras et al. 2022).
///
/// abar(t) = cos^2(phi(t)), phi(t) = (t + offset) / (1 + offset) * pi / 2, alpha = sqrt(abar) = cos(phi),
/// sigma = sqrt(1 - abar) = sin(phi). Both are computed as sines of angles formed without cancellation
/// (`alpha = sin((1 - t) k)`, `sigma = sin((t + offset) k)`, `k = pi / (2 (1 + offset))`) so that each keeps
/// full relative precision at its small end, and `alpha_s sigma_t - alpha_t sigma_s = sin((t - s) k)`.
public enum NoiseSchedule {
    /// The offset `s` of Nichol & Dhariwal, which keeps sigma(0) = 0.0125 away from zero.
    public static let offset = 0.008
    /// The lowest time: every function clamps t to [tMin, tMax] first. sigma(tMin) = 0.0125 > 0.
    public static let tMin = 0.0
    /// The highest time, 1 - 2^-17 (exact in Float, so host and device clamp alike): alpha(tMax) is 1.2e-5
    /// rather than 0, so logSNR stays finite (>= -22.7) and x can still be recovered from z.
    public static let tMax = 1 - 0x1p-17
    /// The smallest magnitude `inverseDDIMCoefficients` divides by (sign kept).
    public static let inverseDDIMMinDenominator = 1e-6

    /// t clamped to [tMin, tMax].
    public static func clamped(_ t: Double) -> Double { Swift.min(Swift.max(t, tMin), tMax) }

    /// pi / (2 (1 + offset)): phi(t) = (t + offset) * angleScale.
    static let angleScale = Double.pi / (2 * (1 + offset))

    /// abar(t) = cos^2(((t + 0.008) / 1.008) pi / 2), the signal variance.
    public static func alphaBar(_ t: Double) -> Double { alpha(t) * alpha(t) }

    /// alpha(t) = sqrt(abar(t)), decreasing from 0.99992 to 1.2e-5.
    public static func alpha(_ t: Double) -> Double { sin((1 - clamped(t)) * angleScale) }

    /// sigma(t) = sqrt(1 - abar(t)), increasing from 0.0125 to 1.
    public static func sigma(_ t: Double) -> Double { sin((clamped(t) + offset) * angleScale) }

    /// log(alpha^2 / sigma^2), decreasing from 8.77 to -22.7.
    public static func logSNR(_ t: Double) -> Double { 2 * (log(alpha(t)) - log(sigma(t))) }

    /// DDIM_{t->s}(x, z_t) = alpha_s x + (sigma_s / sigma_t)(z_t - alpha_t x) (MCM Eq. 4) written as
    /// `x * xhat + zt * z_t`: `xhat = alpha_s - alpha_t sigma_s / sigma_t = sin((t - s) k) / sigma_t`,
    /// `zt = sigma_s / sigma_t`.
    public static func ddimCoefficients(t: Double, s: Double) -> (xhat: Double, zt: Double) {
        let sigmaT = sigma(t)
        return (sin((clamped(t) - clamped(s)) * angleScale) / sigmaT, sigma(s) / sigmaT)
    }

    /// invDDIM_{t->s}(z_s, z_t) = (z_s - (sigma_s / sigma_t) z_t) / (alpha_s - alpha_t sigma_s / sigma_t)
    /// (MCM Eq. 5) written as `zs * z_s + zt * z_t`. The denominator's magnitude is raised to
    /// `inverseDDIMMinDenominator`, keeping its sign (+ for t = s, where z_s says nothing about x).
    public static func inverseDDIMCoefficients(t: Double, s: Double) -> (zs: Double, zt: Double) {
        let (c, r) = ddimCoefficients(t: t, s: s)
        let denominator = c < 0 ? -Swift.max(-c, inverseDDIMMinDenominator) : Swift.max(c, inverseDDIMMinDenominator)
        return (1 / denominator, -r / denominator)
    }

    /// The Karras et al. (2022, Eq. 5) grid sigma_i = (sigmaMax^(1/rho) + i / (count - 1)
    /// (sigmaMin^(1/rho) - sigmaMax^(1/rho)))^rho, i = 0 ..< count: from exactly sigmaMax down to exactly
    /// sigmaMin, strictly decreasing. EDM's sampler appends sigma = 0 after it. `count` is at least 2.
    public static func karrasSigmas(count: Int, sigmaMin: Double = 0.002, sigmaMax: Double = 80, rho: Double = 7) -> [Double] {
        precondition(count >= 2 && 0 < sigmaMin && sigmaMin < sigmaMax && rho > 0, "karrasSigmas: bad arguments")
        let top = pow(sigmaMax, 1 / rho), bottom = pow(sigmaMin, 1 / rho)
        return (0..<count).map { i in
            if i == 0 { return sigmaMax }
            if i == count - 1 { return sigmaMin }
            return pow(top + Double(i) / Double(count - 1) * (bottom - top), rho)
        }
    }
}
