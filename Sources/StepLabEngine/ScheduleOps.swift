import OpenCLKit

/// The VP cosine schedule and the per-row diffusion updates (`Kernels/schedule.cl`), each with a twin in
/// `Reference`. `t` and `s` are column tensors (rows x 1); row r of the (rows x d) tensors uses `t[r]`
/// and `s[r]`. Times are clamped to [`NoiseSchedule.tMin`, `NoiseSchedule.tMax`].
extension Engine {
    /// Work-items per row of `aDDIMStep`; equals `ROW_GROUP` in `schedule.cl`.
    static let scheduleRowGroup = 64

    /// Per row: `alpha(t)`, `sigma(t)` and `logSNR(t) = log(alpha^2 / sigma^2)` (see `NoiseSchedule`).
    public func cosineSchedule(_ t: Tensor, alpha: Tensor, sigma: Tensor, logSNR: Tensor) throws(OpenCLError) {
        try requireColumn("cosineSchedule", t, rows: t.rows)
        try requireSameShape("cosineSchedule", t, alpha, sigma, logSNR)
        try launch("schedule.cl", "cosine_schedule_f32", global: [t.rows], t.storage, t.kernelOffset,
                   alpha.storage, alpha.kernelOffset, sigma.storage, sigma.kernelOffset, logSNR.storage, logSNR.kernelOffset)
    }

    /// The forward process `z = alpha(t) x + sigma(t) eps`.
    public func addNoise(_ x: Tensor, _ eps: Tensor, t: Tensor, into z: Tensor) throws(OpenCLError) {
        try requireSameShape("addNoise", x, eps, z)
        try requireColumn("addNoise", t, rows: z.rows)
        try launch("schedule.cl", "add_noise_f32", global: [z.count], t.storage, t.kernelOffset, x.storage, x.kernelOffset,
                   eps.storage, eps.kernelOffset, z.storage, z.kernelOffset, Int32(z.columns))
    }

    /// The DDIM step (MCM Eq. 4) `z_s = alpha_s xhat + (sigma_s / sigma_t)(z_t - alpha_t xhat)`.
    /// `zs` may be `zt`.
    public func ddimStep(xhat: Tensor, zt: Tensor, t: Tensor, s: Tensor, into zs: Tensor) throws(OpenCLError) {
        try requireSameShape("ddimStep", xhat, zt, zs)
        try requireColumn("ddimStep", t, rows: zs.rows)
        try requireColumn("ddimStep", s, rows: zs.rows)
        try launch("schedule.cl", "ddim_step_f32", global: [zs.count], t.storage, t.kernelOffset, s.storage, s.kernelOffset,
                   xhat.storage, xhat.kernelOffset, zt.storage, zt.kernelOffset, zs.storage, zs.kernelOffset, Int32(zs.columns))
    }

    /// Inverse DDIM (MCM Eq. 5), the x with `DDIM_{t->s}(x, z_t) = z_s`:
    /// `x = (z_s - (sigma_s / sigma_t) z_t) / (alpha_s - alpha_t sigma_s / sigma_t)`.
    ///
    /// Formed in double on devices with `cl_khr_fp64`, because the numerator cancels as s -> t. The
    /// denominator's magnitude is raised to `NoiseSchedule.inverseDDIMMinDenominator` (1e-6), sign kept;
    /// for t = s, where z_s carries no information about x, consistent inputs give x = 0.
    public func inverseDDIM(zs: Tensor, zt: Tensor, t: Tensor, s: Tensor, into x: Tensor) throws(OpenCLError) {
        try requireSameShape("inverseDDIM", zs, zt, x)
        try requireColumn("inverseDDIM", t, rows: x.rows)
        try requireColumn("inverseDDIM", s, rows: x.rows)
        try launch("schedule.cl", "inverse_ddim_f32", global: [x.count], t.storage, t.kernelOffset, s.storage, s.kernelOffset,
                   zs.storage, zs.kernelOffset, zt.storage, zt.kernelOffset, x.storage, x.kernelOffset, Int32(x.columns))
    }

    /// The adjusted DDIM step (MCM Algorithm 3): with `eps_hat = (z_t - alpha_t xhat) / sigma_t` and
    /// `z_var = (alpha_s - alpha_t sigma_s / sigma_t)^2 xVar`,
    /// `z_s = alpha_s xhat + sqrt(sigma_s^2 + (d / |eps_hat|^2) z_var) eps_hat`, d = columns.
    /// `xVar` (rows x 1) is the per-dimension variance of x given z_t, e.g. `0.75 |x - xhat|^2 / d`.
    /// `xVar = 0` gives exactly `ddimStep`. `zs` may be `zt`.
    public func aDDIMStep(xhat: Tensor, zt: Tensor, xVar: Tensor, t: Tensor, s: Tensor, into zs: Tensor) throws(OpenCLError) {
        try requireSameShape("aDDIMStep", xhat, zt, zs)
        for column in [t, s, xVar] { try requireColumn("aDDIMStep", column, rows: zs.rows) }
        let group = Self.scheduleRowGroup
        try launch("schedule.cl", "addim_step_f32", global: [zs.rows * group], local: [group],
                   t.storage, t.kernelOffset, s.storage, s.kernelOffset, xVar.storage, xVar.kernelOffset,
                   xhat.storage, xhat.kernelOffset, zt.storage, zt.kernelOffset, zs.storage, zs.kernelOffset, Int32(zs.columns))
    }
}

/// Throws unless every tensor is a (rows x 1) column; `op` names the operation in the message.
public func requireColumn(_ op: String, _ columns: Tensor..., rows: Int) throws(OpenCLError) {
    for column in columns where column.rows != rows || column.columns != 1 {
        throw .invalidRequest("\(op): expected a \(rows)x1 column, got \(column.rows)x\(column.columns)")
    }
}
