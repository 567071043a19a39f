// edm.cl: the EDM sigma-space parameterisation (Karras et al. 2022) for consistency models (Song et al. 2023,
// improved as iCT by Song & Dhariwal 2023) and EDM diffusion. random.cl is prepended by the host.
// x_sigma = x + sigma eps; the network F sees [c_in x_sigma, emb(c_noise)] and the model is
//   f(x, sigma) = c_skip(sigma) x + c_out(sigma) F.
// boundary = 1 (consistency models, CM App. C): c_skip = sd^2 / ((sigma - smin)^2 + sd^2),
//   c_out = (sigma - smin) sd / sqrt(sigma^2 + sd^2), so f(x, smin) = x exactly.
// boundary = 0 (EDM diffusion): c_skip = sd^2 / (sigma^2 + sd^2), c_out = sigma sd / sqrt(sigma^2 + sd^2).
// c_in = 1 / sqrt(sigma^2 + sd^2), c_noise = ln(sigma) / 4.

inline float c_skip(const float sigma, const float sd, const float smin, const int boundary) {
    const float shifted = boundary ? sigma - smin : sigma;
    return sd * sd / (shifted * shifted + sd * sd);
}
inline float c_out(const float sigma, const float sd, const float smin, const int boundary) {
    return (boundary ? sigma - smin : sigma) * sd / sqrt(sigma * sigma + sd * sd);
}

// iCT pair sampling. Per row: u in (0, 1) -> index i by inverse CDF over the N - 1 adjacent pairs of the
// ascending Karras grid (cdf holds the N - 1 cumulative probabilities, last = 1); sigma_lo = grid[i],
// sigma_hi = grid[i + 1]; weight = 1 / (sigma_hi - sigma_lo) (iCT). Range: [rows].
__kernel void ict_pairs(const int pairs, __global const float *cdf, __global const float *grid,
                        const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1,
                        __global float *sigma_hi, const int hi_off, __global float *sigma_lo, const int lo_off,
                        __global float *weight, const int weight_off) {
    const int r = get_global_id(0);
    const float u = unit_open(philox4x32_10((uint4)(c0 + (uint)r, c1, c2, c3), (uint2)(k0, k1)).x);
    int lo = 0, hi = pairs - 1;
    while (lo < hi) { const int mid = (lo + hi) / 2; if (cdf[mid] < u) lo = mid + 1; else hi = mid; }
    const float a = grid[lo], b = grid[lo + 1];
    sigma_lo[lo_off + r] = a;
    sigma_hi[hi_off + r] = b;
    weight[weight_off + r] = 1.0f / (b - a);
}

// ECT pair sampling (Geng et al. 2024; locuslab/ect's ECMLoss): per row, sigma_hi = exp(p_mean + p_std n) with n ~ N(0, 1)
// from the row's Philox block (Box-Muller on its first two words), clamped to [2 smin, smax]; sigma_lo = max(smin,
// sigma_hi (1 - decay (1 + k sigmoid(-b sigma_hi)))) with decay = q^-(stage + 1), so the gap shrinks stage by stage
// and at sigma_lo = smin the boundary condition makes the target the data itself; weight = 1 / (sigma_hi - sigma_lo).
// Range: [rows].
__kernel void ect_pairs(const float p_mean, const float p_std, const float smin, const float smax, const float decay,
                        const float k, const float b, const uint c0, const uint c1, const uint c2, const uint c3,
                        const uint k0, const uint k1, __global float *sigma_hi, const int hi_off,
                        __global float *sigma_lo, const int lo_off, __global float *weight, const int weight_off) {
    const int r = get_global_id(0);
    const uint4 w = philox4x32_10((uint4)(c0 + (uint)r, c1, c2, c3), (uint2)(k0, k1));
    const float t = clamp(exp(p_mean + p_std * box_muller(w.x, w.y).x), 2.0f * smin, smax);
    const float lo = fmax(smin, t * (1.0f - decay * (1.0f + k / (1.0f + exp(b * t)))));
    sigma_hi[hi_off + r] = t;
    sigma_lo[lo_off + r] = lo;
    weight[weight_off + r] = 1.0f / (t - lo);
}

// out = x + sigma eps, sigma per row. Range: [rows * d].
__kernel void edm_noise(const int d, __global const float *x, const int x_off, __global const float *eps, const int eps_off,
                        __global const float *sigma, const int sigma_off, __global float *out, const int out_off) {
    const int i = get_global_id(0);
    out[out_off + i] = x[x_off + i] + sigma[sigma_off + i / d] * eps[eps_off + i];
}

// xin = c_in x, cnoise = ln(sigma) / 4. Range: [rows * d]; the first column also writes cnoise.
__kernel void edm_precondition(const int d, const float sd, __global const float *x, const int x_off,
                               __global const float *sigma, const int sigma_off, __global float *xin, const int xin_off,
                               __global float *cnoise, const int cnoise_off) {
    const int i = get_global_id(0), r = i / d;
    const float s = sigma[sigma_off + r];
    xin[xin_off + i] = x[x_off + i] / sqrt(s * s + sd * sd);
    if (i - r * d == 0) cnoise[cnoise_off + r] = 0.25f * log(s);
}

// f = c_skip x + c_out F. Range: [rows * d].
__kernel void edm_output(const int d, const float sd, const float smin, const int boundary,
                         __global const float *x, const int x_off, __global const float *net, const int net_off,
                         __global const float *sigma, const int sigma_off, __global float *f, const int f_off) {
    const int i = get_global_id(0);
    const float s = sigma[sigma_off + i / d];
    f[f_off + i] = c_skip(s, sd, smin, boundary) * x[x_off + i] + c_out(s, sd, smin, boundary) * net[net_off + i];
}

// dL/dF = c_out dL/df. Range: [rows * d].
__kernel void edm_output_gradient(const int d, const float sd, const float smin, const int boundary,
                                  __global const float *sigma, const int sigma_off, __global const float *gf, const int gf_off,
                                  __global float *gnet, const int gnet_off) {
    const int i = get_global_id(0);
    gnet[gnet_off + i] = c_out(sigma[sigma_off + i / d], sd, smin, boundary) * gf[gf_off + i];
}

// A VP model as an EDM denoiser: x_sigma = x / alpha with sigma = sigma_t / alpha_t, so z = x_sigma / sqrt(1 + sigma^2)
// and t = phi^-1(atan(sigma)) on the cosine schedule (clamped to its range by the schedule). Range: [rows * d].
__kernel void edm_to_vp(const int d, const float offset, __global const float *x, const int x_off,
                        __global const float *sigma, const int sigma_off, __global float *z, const int z_off,
                        __global float *t, const int t_off) {
    const int i = get_global_id(0), r = i / d;
    const float s = sigma[sigma_off + r];
    z[z_off + i] = x[x_off + i] / sqrt(1.0f + s * s);
    if (i - r * d == 0) t[t_off + r] = atan(s) * (1.0f + offset) / 1.5707963267948966f - offset;
}

// Euler step of the probability-flow ODE dx/dsigma = (x - D) / sigma from sigma_from to sigma_to (per row);
// slope receives (x - D) / sigma_from. Range: [rows * d].
__kernel void edm_euler(const int d, __global const float *x, const int x_off, __global const float *denoised, const int den_off,
                        __global const float *from, const int from_off, __global const float *to, const int to_off,
                        __global float *slope, const int slope_off, __global float *out, const int out_off) {
    const int i = get_global_id(0), r = i / d;
    const float sf = from[from_off + r];
    const float g = (x[x_off + i] - denoised[den_off + i]) / sf;
    slope[slope_off + i] = g;
    out[out_off + i] = x[x_off + i] + (to[to_off + r] - sf) * g;
}

// The probability-flow slope (x - D(x, s)) / s of the EDM denoiser (no boundary scalings) from the network output F:
// with c_skip = sd^2 / (s^2 + sd^2) and c_out = s sd / sqrt(s^2 + sd^2) it is s x / (s^2 + sd^2) - sd F / sqrt(s^2 + sd^2),
// which never forms x - D: right after a jump from 80 to s = 0.002 that difference is rounding, amplified 1 / s-fold.
inline float edm_flow_slope(const float x, const float net, const float s, const float sd) {
    const float v = s * s + sd * sd;
    return s * x / v - sd * net / sqrt(v);
}

// Euler step of the probability-flow ODE from sigma_from to sigma_to with the slope from F = net (see
// edm_flow_slope); slope receives it for Heun's correction. Range: [rows * d].
__kernel void edm_flow_euler(const int d, const float sd, __global const float *x, const int x_off,
                             __global const float *net, const int net_off, __global const float *from, const int from_off,
                             __global const float *to, const int to_off, __global float *slope, const int slope_off,
                             __global float *out, const int out_off) {
    const int i = get_global_id(0), r = i / d;
    const float sf = from[from_off + r];
    const float g = edm_flow_slope(x[x_off + i], net[net_off + i], sf, sd);
    slope[slope_off + i] = g;
    out[out_off + i] = x[x_off + i] + (to[to_off + r] - sf) * g;
}

// Heun's correction from F at (x_euler, sigma_to): out = x + (to - from) (slope + slope(x_euler, to)) / 2. `out` may be
// x. Range: [rows * d].
__kernel void edm_flow_heun(const int d, const float sd, __global const float *x, const int x_off,
                            __global const float *slope, const int slope_off, __global const float *x_euler, const int xe_off,
                            __global const float *net, const int net_off, __global const float *from, const int from_off,
                            __global const float *to, const int to_off, __global float *out, const int out_off) {
    const int i = get_global_id(0), r = i / d;
    const float st = to[to_off + r];
    const float g2 = edm_flow_slope(x_euler[xe_off + i], net[net_off + i], st, sd);
    out[out_off + i] = x[x_off + i] + (st - from[from_off + r]) * 0.5f * (slope[slope_off + i] + g2);
}

// Heun's correction: out = x + (to - from) (slope + (x_euler - D(x_euler, to)) / to) / 2. Range: [rows * d].
__kernel void edm_heun(const int d, __global const float *x, const int x_off, __global const float *slope, const int slope_off,
                       __global const float *x_euler, const int xe_off, __global const float *denoised, const int den_off,
                       __global const float *from, const int from_off, __global const float *to, const int to_off,
                       __global float *out, const int out_off) {
    const int i = get_global_id(0), r = i / d;
    const float st = to[to_off + r];
    const float g2 = (x_euler[xe_off + i] - denoised[den_off + i]) / st;
    out[out_off + i] = x[x_off + i] + (st - from[from_off + r]) * 0.5f * (slope[slope_off + i] + g2);
}

// EDM's loss weight lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2. Range: [rows].
__kernel void edm_loss_weight(const float sd, __global const float *sigma, const int sigma_off,
                              __global float *weight, const int weight_off) {
    const int r = get_global_id(0);
    const float s = sigma[sigma_off + r];
    weight[weight_off + r] = (s * s + sd * sd) / (s * s * sd * sd);
}
