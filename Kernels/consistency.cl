// consistency.cl: the per-sample pieces of multistep consistency training (MCM, Heek, Hoogeboom & Salimans
// 2024, Algorithm 1) on the VP cosine schedule. random.cl and schedule.cl are prepended by the host.
//
// Time [0, 1] is split into S segments; the teacher grid has T = S * N_per steps. For each sample:
//   step ~ U{0..S-1}, n_rel ~ U{1..N_per}, t_step = step / S, t = t_step + n_rel / T, s = t - 1 / T.
// The target for the student's x-prediction at (z_t, t) is
//   x_target = invDDIM_{t -> t_step}(DDIM_{s -> t_step}(xref, z_s), z_t)
// with xref = stopgrad f(z_s, s). When s = t_step, DDIM_{s -> s} returns z_s and the target is the x that made
// z_s (the data for CT): the anchor that keeps the model from collapsing onto a trivially consistent map (MCM
// Eq. 8), also in the lowest segment, where t_step = 0 still has sigma_0 = sin(S k) > 0 on this schedule.
// With S = 1 the loss is the consistency loss between the two jumps to t = 0 (MCM Eq. 6), rescaled to x-space.
// n_rel >= 1 keeps t - t_step >= 1 / T, so the inverse-DDIM denominator sin((t - t_step) k) / sigma_t never
// vanishes; it is formed in double where the device has it (it cancels as t -> t_step).

// Range: [rows]. Uses Philox block (r, c1, c2, c3): two words per row.
__kernel void mcm_times(const int segments, const int per_segment,
                        const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1,
                        __global float *t, const int t_off, __global float *s, const int s_off,
                        __global float *tstep, const int tstep_off) {
    const int r = get_global_id(0);
    const uint4 w = philox4x32_10((uint4)(c0 + (uint)r, c1, c2, c3), (uint2)(k0, k1));
    const int step = (int)(w.x % (uint)segments);
    const int n_rel = 1 + (int)(w.y % (uint)per_segment);
    const float total = (float)(segments * per_segment);
    const float t_step = (float)step / (float)segments;
    const float tv = t_step + (float)n_rel / total;
    t[t_off + r] = tv;
    s[s_off + r] = tv - 1.0f / total;
    tstep[tstep_off + r] = t_step;
}

// Range: [rows]. target (rows x d); weight (rows x 1) = SNR(t) + 1 = 1 / sigma_t^2.
__kernel void mcm_target(const int d, __global const float *xref, const int xref_off,
                         __global const float *zs, const int zs_off, __global const float *zt, const int zt_off,
                         __global const float *t, const int t_off, __global const float *s, const int s_off,
                         __global const float *tstep, const int tstep_off,
                         __global float *target, const int target_off, __global float *weight, const int weight_off) {
    const int r = get_global_id(0);
    const float tv = t[t_off + r], sv = s[s_off + r], tb = tstep[tstep_off + r];
    const float sigma_t = sigma_of(tv);
    weight[weight_off + r] = 1.0f / (sigma_t * sigma_t);
    __global const float *xr = xref + xref_off + r * d;
    __global float *out = target + target_off + r * d;
    const float2 a = ddim_coefficients(sv, tb);   // z_ref = a.x xref + a.y z_s
#ifdef cl_khr_fp64
    const double k = HALF_PI / (1.0 + SCHEDULE_OFFSET);
    const double sig_t = sin(((double)clamp_t(tv) + SCHEDULE_OFFSET) * k);
    const double den = sin(((double)clamp_t(tv) - (double)clamp_t(tb)) * k) / sig_t;
    const double ratio = sin(((double)clamp_t(tb) + SCHEDULE_OFFSET) * k) / sig_t;
    for (int j = 0; j < d; j++) {
        const double zref = (double)a.x * xr[j] + (double)a.y * zs[zs_off + r * d + j];
        out[j] = (float)((zref - ratio * (double)zt[zt_off + r * d + j]) / den);
    }
#else
    const float2 b = ddim_coefficients(tv, tb);   // invDDIM: x = (z_ref - b.y z_t) / b.x
    for (int j = 0; j < d; j++) {
        const float zref = a.x * xr[j] + a.y * zs[zs_off + r * d + j];
        out[j] = (zref - b.y * zt[zt_off + r * d + j]) / b.x;
    }
#endif
}

// x_var = eta * |a - b|^2 / d per row: MCM's empirical posterior variance for the aDDIM teacher step.
// Range: [rows].
__kernel void row_variance(const int d, const float eta, __global const float *a, const int a_off,
                           __global const float *b, const int b_off, __global float *out, const int out_off) {
    const int r = get_global_id(0);
    float sum = 0.0f;
    for (int j = 0; j < d; j++) { const float e = a[a_off + r * d + j] - b[b_off + r * d + j]; sum += e * e; }
    out[out_off + r] = eta * sum / (float)d;
}
