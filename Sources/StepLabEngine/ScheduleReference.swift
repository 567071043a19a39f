/// Host twins of the per-row schedule kernels, computed in Double from `NoiseSchedule` and rounded once.
/// Arrays are row-major; `t` and `s` hold one value per row and `columns` is d.
extension Reference {
    /// `(alpha, sigma, logSNR)` for each t.
    public static func cosineSchedule(_ t: [Float]) -> (alpha: [Float], sigma: [Float], logSNR: [Float]) {
        (t.map { Float(NoiseSchedule.alpha(Double($0))) }, t.map { Float(NoiseSchedule.sigma(Double($0))) },
         t.map { Float(NoiseSchedule.logSNR(Double($0))) })
    }

    /// `z = alpha(t) x + sigma(t) eps`.
    public static func addNoise(_ x: [Float], _ eps: [Float], t: [Float], columns: Int) -> [Float] {
        x.indices.map { i in
            let tr = Double(t[i / columns])
            return Float(NoiseSchedule.alpha(tr) * Double(x[i]) + NoiseSchedule.sigma(tr) * Double(eps[i]))
        }
    }

    /// `z_s = alpha_s xhat + (sigma_s / sigma_t)(z_t - alpha_t xhat)`.
    public static func ddimStep(xhat: [Float], zt: [Float], t: [Float], s: [Float], columns: Int) -> [Float] {
        xhat.indices.map { i in
            let k = NoiseSchedule.ddimCoefficients(t: Double(t[i / columns]), s: Double(s[i / columns]))
            return Float(k.xhat * Double(xhat[i]) + k.zt * Double(zt[i]))
        }
    }

    /// `x = (z_s - (sigma_s / sigma_t) z_t) / (alpha_s - alpha_t sigma_s / sigma_t)`, denominator guarded.
    public static func inverseDDIM(zs: [Float], zt: [Float], t: [Float], s: [Float], columns: Int) -> [Float] {
        zs.indices.map { i in
            let k = NoiseSchedule.inverseDDIMCoefficients(t: Double(t[i / columns]), s: Double(s[i / columns]))
            return Float(k.zs * Double(zs[i]) + k.zt * Double(zt[i]))
        }
    }

    /// MCM Algorithm 3 as written: `z_s = alpha_s xhat + sqrt(sigma_s^2 + (d / |eps_hat|^2) z_var) eps_hat`.
    public static func aDDIMStep(xhat: [Float], zt: [Float], xVar: [Float], t: [Float], s: [Float], columns: Int) -> [Float] {
        var zs = [Float](repeating: 0, count: xhat.count)
        for r in 0..<xhat.count / columns {
            let tr = Double(t[r]), sr = Double(s[r])
            let alphaT = NoiseSchedule.alpha(tr), sigmaT = NoiseSchedule.sigma(tr)
            let alphaS = NoiseSchedule.alpha(sr), sigmaS = NoiseSchedule.sigma(sr)
            let row = r * columns ..< (r + 1) * columns
            let epsHat = row.map { (Double(zt[$0]) - alphaT * Double(xhat[$0])) / sigmaT }
            let norm2 = epsHat.reduce(0) { $0 + $1 * $1 }
            let c = NoiseSchedule.ddimCoefficients(t: tr, s: sr).xhat
            let zVar = c * c * Double(xVar[r])
            let scale = norm2 > 0 ? (sigmaS * sigmaS + Double(columns) / norm2 * zVar).squareRoot() : sigmaS
            for (j, i) in row.enumerated() { zs[i] = Float(alphaS * Double(xhat[i]) + scale * epsHat[j]) }
        }
        return zs
    }
}
