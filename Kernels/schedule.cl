// schedule.cl: the VP cosine noise schedule and the per-row diffusion updates built on it (forward noising,
// DDIM, inverse DDIM, aDDIM), and the sinusoidal time embedding written next to z as the network input.
// t and s are column tensors (rows x 1): row r of x, z, eps (rows x d) uses t[r] and s[r].
// DDIM and inverse DDIM are Eq. 4-5 and aDDIM is Algorithm 3 of the Multistep Consistency Models paper (MCM,
// Heek, Hoogeboom, Salimans 2024). NoiseSchedule and Reference (Swift) are the host twins.
//
// Cosine schedule (Nichol & Dhariwal 2021): abar(t) = cos^2(phi(t)), phi(t) = (t + S) / (1 + S) * pi / 2.
// alpha = cos(phi) and sigma = sin(phi) are computed as sin((1 - t) k) and sin((t + S) k), k = pi / (2 (1 + S)):
// each is a sine of an angle formed without cancellation, so accurate to a few ulp even where it is tiny, and
// alpha_s sigma_t - alpha_t sigma_s = sin(phi_t - phi_s) = sin((t - s) k) needs no subtraction of near-equal
// products. t is clamped to [T_MIN, T_MAX] first so that alpha and sigma are both positive.

#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

// The schedule's offset s (Nichol & Dhariwal 2021 use 0.008). Must match NoiseSchedule.offset.
#ifndef SCHEDULE_OFFSET
#define SCHEDULE_OFFSET 0.008
#endif
// sigma(0) = sin(S k) = 0.0125 is already positive; T_MAX = 1 - 2^-17 (exact in float, so host and device
// clamp to the same value) keeps alpha >= 1.2e-5 and logSNR >= -22.7. Must match NoiseSchedule.tMin / tMax.
#ifndef SCHEDULE_T_MIN
#define SCHEDULE_T_MIN 0.0
#endif
#ifndef SCHEDULE_T_MAX
#define SCHEDULE_T_MAX (1.0 - 0x1p-17)
#endif
// Inverse DDIM divides by alpha_s - alpha_t sigma_s / sigma_t; smaller magnitudes are raised to this,
// keeping the sign (see inverse_ddim_f32). Must match NoiseSchedule.inverseDDIMMinDenominator.
#ifndef INVERSE_DDIM_MIN_DENOMINATOR
#define INVERSE_DDIM_MIN_DENOMINATOR 1e-6
#endif
// Work-items per row in addim_step_f32, a power of two. Must match the local size the host launches with.
#ifndef ROW_GROUP
#define ROW_GROUP 64
#endif

#define HALF_PI 1.57079632679489661923

inline float clamp_t(const float t) { return clamp(t, (float)SCHEDULE_T_MIN, (float)SCHEDULE_T_MAX); }
inline float angle_scale(void) { return (float)(HALF_PI / (1.0 + SCHEDULE_OFFSET)); }
inline float alpha_of(const float t) { return sin((1.0f - clamp_t(t)) * angle_scale()); }
inline float sigma_of(const float t) { return sin((clamp_t(t) + (float)SCHEDULE_OFFSET) * angle_scale()); }

// DDIM (MCM Eq. 4) as z_s = c x + r z_t, with c = alpha_s - alpha_t sigma_s / sigma_t = sin(phi_t - phi_s) / sigma_t
// and r = sigma_s / sigma_t.
inline float2 ddim_coefficients(const float t, const float s) {
    const float sigma_t = sigma_of(t);
    return (float2)(sin((clamp_t(t) - clamp_t(s)) * angle_scale()) / sigma_t, sigma_of(s) / sigma_t);
}

// Per row: alpha(t), sigma(t) and logSNR(t) = log(alpha^2 / sigma^2), from logs so that it never overflows.
__kernel void cosine_schedule_f32(__global const float *t, const int t_off, __global float *alpha, const int alpha_off,
                                  __global float *sigma, const int sigma_off, __global float *logsnr, const int logsnr_off) {
    const int r = get_global_id(0);
    const float a = alpha_of(t[t_off + r]), s = sigma_of(t[t_off + r]);
    alpha[alpha_off + r] = a;
    sigma[sigma_off + r] = s;
    logsnr[logsnr_off + r] = 2.0f * (log(a) - log(s));
}

// z = alpha_t x + sigma_t eps (forward process).
__kernel void add_noise_f32(__global const float *t, const int t_off, __global const float *x, const int x_off,
                            __global const float *eps, const int eps_off, __global float *z, const int z_off, const int d) {
    const int i = get_global_id(0);
    const float tr = t[t_off + i / d];
    z[z_off + i] = alpha_of(tr) * x[x_off + i] + sigma_of(tr) * eps[eps_off + i];
}

// z_s = DDIM_{t->s}(xhat, z_t) = alpha_s xhat + (sigma_s / sigma_t)(z_t - alpha_t xhat). z_s may alias z_t.
__kernel void ddim_step_f32(__global const float *t, const int t_off, __global const float *s, const int s_off,
                            __global const float *xhat, const int xhat_off, __global const float *zt, const int zt_off,
                            __global float *zs, const int zs_off, const int d) {
    const int i = get_global_id(0), r = i / d;
    const float2 k = ddim_coefficients(t[t_off + r], s[s_off + r]);
    zs[zs_off + i] = k.x * xhat[xhat_off + i] + k.y * zt[zt_off + i];
}

// x = invDDIM_{t->s}(z_s, z_t) = (z_s - (sigma_s / sigma_t) z_t) / (alpha_s - alpha_t sigma_s / sigma_t): the x for
// which DDIM_{t->s}(x, z_t) = z_s. The numerator cancels as s -> t and the quotient amplifies its rounding by
// 1 / denominator, so it is formed in double where the device has it (the float inputs' products are then
// exact); the denominator sin((t - s) k) / sigma_t involves no cancellation. Its magnitude is raised to
// INVERSE_DDIM_MIN_DENOMINATOR keeping its sign (+ for t = s, where z_s carries no information about x and
// the result is (z_s - z_t) / 1e-6, i.e. 0 for consistent inputs).
#ifdef cl_khr_fp64
inline double clamp_t_d(const float t) { return (double)clamp_t(t); }
inline double sigma_of_d(const float t) { return sin((clamp_t_d(t) + SCHEDULE_OFFSET) * (HALF_PI / (1.0 + SCHEDULE_OFFSET))); }
__kernel void inverse_ddim_f32(__global const float *t, const int t_off, __global const float *s, const int s_off,
                               __global const float *zs, const int zs_off, __global const float *zt, const int zt_off,
                               __global float *x, const int x_off, const int d) {
    const int i = get_global_id(0), r = i / d;
    const float tr = t[t_off + r], sr = s[s_off + r];
    const double sigma_t = sigma_of_d(tr);
    double den = sin((clamp_t_d(tr) - clamp_t_d(sr)) * (HALF_PI / (1.0 + SCHEDULE_OFFSET))) / sigma_t;
    den = copysign(fmax(fabs(den), INVERSE_DDIM_MIN_DENOMINATOR), den);
    x[x_off + i] = (float)(((double)zs[zs_off + i] - sigma_of_d(sr) / sigma_t * (double)zt[zt_off + i]) / den);
}
#else
__kernel void inverse_ddim_f32(__global const float *t, const int t_off, __global const float *s, const int s_off,
                               __global const float *zs, const int zs_off, __global const float *zt, const int zt_off,
                               __global float *x, const int x_off, const int d) {
    const int i = get_global_id(0), r = i / d;
    const float2 k = ddim_coefficients(t[t_off + r], s[s_off + r]);
    const float den = copysign(fmax(fabs(k.x), (float)INVERSE_DDIM_MIN_DENOMINATOR), k.x);
    x[x_off + i] = (zs[zs_off + i] - k.y * zt[zt_off + i]) / den;
}
#endif

// aDDIM (MCM Algorithm 3): with eps_hat = (z_t - alpha_t xhat) / sigma_t and z_var = c^2 x_var,
// z_s = alpha_s xhat + sqrt(sigma_s^2 + d z_var / |eps_hat|^2) eps_hat. Written as DDIM plus
// (sqrt(sigma_s^2 + v) - sigma_s) eps_hat, that excess formed as v / (sqrt(sigma_s^2 + v) + sigma_s) to avoid
// cancellation, so x_var = 0 gives exactly ddim_step_f32. One work-group of ROW_GROUP items per row: the
// group reduces |eps_hat|^2, then each item writes its elements. z_s may alias z_t (all reads of the row
// happen before the barrier or by the item that writes the same element).
__kernel __attribute__((reqd_work_group_size(ROW_GROUP, 1, 1)))
void addim_step_f32(__global const float *t, const int t_off, __global const float *s, const int s_off,
                    __global const float *xvar, const int xvar_off, __global const float *xhat, const int xhat_off,
                    __global const float *zt, const int zt_off, __global float *zs, const int zs_off, const int d) {
    __local float partial[ROW_GROUP];
    const int r = get_group_id(0), lid = get_local_id(0);
    const float tr = t[t_off + r], sr = s[s_off + r];
    const float alpha_t = alpha_of(tr), sigma_t = sigma_of(tr), sigma_s = sigma_of(sr);
    const float2 k = ddim_coefficients(tr, sr);
    const int row = r * d;

    float sum = 0.0f;
    for (int j = lid; j < d; j += ROW_GROUP) {
        const float e = (zt[zt_off + row + j] - alpha_t * xhat[xhat_off + row + j]) / sigma_t;
        sum += e * e;
    }
    partial[lid] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = ROW_GROUP / 2; stride > 0; stride >>= 1) {
        if (lid < stride) partial[lid] += partial[lid + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float norm2 = partial[0];
    // eps_hat = 0 makes the excess irrelevant; v = 0 also covers x_var = 0 exactly.
    const float v = norm2 > 0.0f ? (float)d * k.x * k.x * xvar[xvar_off + r] / norm2 : 0.0f;
    const float excess = v > 0.0f ? v / (sqrt(sigma_s * sigma_s + v) + sigma_s) : 0.0f;

    for (int j = lid; j < d; j += ROW_GROUP) {
        const float xj = xhat[xhat_off + row + j], zj = zt[zt_off + row + j];
        const float e = (zj - alpha_t * xj) / sigma_t;
        zs[zs_off + row + j] = (k.x * xj + k.y * zj) + excess * e;
    }
}

// out (rows x (d + 2F)) = [z (rows x d), sin(scale t f_0..F-1), cos(scale t f_0..F-1)], f_i = 10000^(-i / F):
// the transformer sinusoidal embedding (Vaswani et al. 2017) of scale * t; scale = 1000 is DDPM's convention
// (t as a step index) and the reference workload's. d = 0
// writes the embedding alone (z is then not read). The angle reaches 1000 rad, where a float argument is
// only good to 3e-5, so where the device has doubles the angle is formed and reduced to [0, 2 pi) in double
// and only the sine of the reduced angle is taken in float (a double sine costs ~10x more on CPUs and the
// reduced float angle is exact to 3e-7).
// One work-item per row.
// The sinusoidal embedding of scale * t into sines[0..F) and cosines[0..F) (see network_input_f32).
inline void write_time_embedding(__global float *sines, __global float *cosines, const float t, const int frequencies,
                                 const float scale) {
#ifdef cl_khr_fp64
    const double TWO_PI_D = 6.283185307179586476925, INV_TWO_PI_D = 0.15915494309189533577;
    const double base = (double)scale * (double)t;
    // f_i = ratio^i by repeated multiplication: relative error i * 1e-16, and one exp per row, not per element.
    const double ratio = exp(-log(10000.0) / (double)frequencies);
    double frequency = 1.0;
    for (int f = 0; f < frequencies; f++, frequency *= ratio) {
        const double angle = base * frequency;
        const float reduced = (float)(angle - TWO_PI_D * floor(angle * INV_TWO_PI_D));
        float c;
        sines[f] = sincos(reduced, &c);
        cosines[f] = c;
    }
#else
    const float base = scale * t;
    for (int f = 0; f < frequencies; f++) {
        const float angle = base * exp(-log(10000.0f) * (float)f / (float)frequencies);
        float c;
        sines[f] = sincos(angle, &c);
        cosines[f] = c;
    }
#endif
}

__kernel void network_input_f32(__global const float *z, const int z_off, const int d,
                                __global const float *t, const int t_off, const int frequencies, const float scale,
                                __global float *out, const int out_off) {
    const int r = get_global_id(0), width = d + 2 * frequencies;
    __global float *row = out + out_off + r * width;
    for (int j = 0; j < d; j++) row[j] = z[z_off + r * d + j];
    write_time_embedding(row + d, row + d + frequencies, t[t_off + r], frequencies, scale);
}

// The embeddings of K times per row, side by side: t is rows x K, out rows x 2 F K with time j's [sines, cosines] at
// columns [2 F j, 2 F (j + 1)). Range: [rows, K].
__kernel void time_embeddings(__global const float *t, const int t_off, const int K, const int frequencies, const float scale,
                              __global float *out, const int out_off) {
    const int r = get_global_id(0), j = get_global_id(1);
    __global float *row = out + out_off + (size_t)r * 2 * frequencies * K + 2 * frequencies * j;
    write_time_embedding(row, row + frequencies, t[t_off + r * K + j], frequencies, scale);
}

// The tangent of time_embeddings along dt (rows x K), from the embeddings themselves (rows x 2 F K):
//   d sin(s t f_i) = s f_i cos(s t f_i) dt,   d cos(s t f_i) = -s f_i sin(s t f_i) dt.
// Range: [rows, K].
__kernel void time_embedding_tangent(__global const float *emb, const int emb_off, __global const float *dt, const int dt_off,
                                     const int K, const int frequencies, const float scale, __global float *out, const int out_off) {
    const int r = get_global_id(0), j = get_global_id(1);
    const size_t start = (size_t)r * 2 * frequencies * K + 2 * frequencies * j;
    __global const float *e = emb + emb_off + start;
    __global float *o = out + out_off + start;
    const float rate = scale * dt[dt_off + r * K + j];
    for (int f = 0; f < frequencies; f++) {
        const float w = rate * exp(-log(10000.0f) * (float)f / (float)frequencies);
        const float s = e[f], c = e[frequencies + f];
        o[f] = w * c;
        o[frequencies + f] = -w * s;
    }
}
