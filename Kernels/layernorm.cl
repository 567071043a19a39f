// layernorm.cl: LayerNorm over each row (Ba et al. 2016), without its own affine, optionally followed by a
// per-sample FiLM modulation (Perez et al. 2018; DiT's adaLN, Peebles & Xie 2023) and an activation:
//   xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps)   (biased variance, as torch.nn.LayerNorm)
//   y    = act(xhat * (1 + scale[r]) + shift[r])            (scale = shift = 0 without modulation)
// The modulation of row r lies at mod[mod_off + r * mod_stride + j] (scale) and `+ C + j` (shift): one block's
// slice of a conditioning matrix that holds every block's (scale, shift) side by side, so one matmul
// computes all of them. Its CPU twin is Reference.layerNorm / layerNormBackward (LayerNormOps.swift).
//
// One work-item per row: rows are a few hundred floats, and the 2-core CPU wants one long loop per item.
// The activation is the compile-time ACT (activations.cl's numbering; the host passes -D ACT=n): with the
// run-time switch inside the row loops the kernels took 2.1x as long (bench profile --arch resmlp, batch 512:
// 8.5 against 4.0 ms per step for the eight launches). One work-group per row (reqd_work_group_size(1, 1, 1),
// as matmul_cpu does) changed nothing measurable, so the default work-groups stay.
// (A GPU would prefer a work-group per row with a local reduction; this file has none yet.)
#ifndef ACT
#define ACT 0
#endif

// Range: [R]. stats[2r] = mean, stats[2r + 1] = rstd (what the backward needs).
__kernel void layernorm_forward(const int C, const float eps, const int has_mod,
                                __global const float *x, const int x_off, __global float *y, const int y_off,
                                __global float *stats, const int stats_off,
                                __global const float *mod, const int mod_off, const int mod_stride) {
    const int r = get_global_id(0);
    __global const float *xr = x + x_off + (size_t)r * C;
    __global float *yr = y + y_off + (size_t)r * C;
    float sum = 0.0f;
    for (int j = 0; j < C; j++) sum += xr[j];
    const float mean = sum / C;
    float sq = 0.0f;
    for (int j = 0; j < C; j++) { const float d = xr[j] - mean; sq += d * d; }
    const float rstd = rsqrt(sq / C + eps);
    stats[stats_off + 2 * r] = mean;
    stats[stats_off + 2 * r + 1] = rstd;
    __global const float *mr = mod + mod_off + (size_t)r * mod_stride;
    for (int j = 0; j < C; j++) {
        const float xhat = (xr[j] - mean) * rstd;
        const float m = has_mod ? xhat * (1.0f + mr[j]) + mr[C + j] : xhat;
        yr[j] = act_forward(m, ACT);
    }
}

// The adjoint of layernorm_forward for row r, given dy:
//   g = dy * act'(m);  dshift = g;  dscale = g * xhat;  dxhat = g * (1 + scale)
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
// dx is added to what is already there when `accumulate` (the skip path of a residual block), and the
// modulation's gradient goes to dmod in the modulation's layout (overwritten: it is an activation's gradient).
// Range: [R].
__kernel void layernorm_backward(const int C, const int has_mod, const int accumulate,
                                 __global const float *dy, const int dy_off, __global const float *x, const int x_off,
                                 __global const float *stats, const int stats_off,
                                 __global const float *mod, const int mod_off, const int mod_stride,
                                 __global float *dmod, const int dmod_off, __global float *dx, const int dx_off) {
    const int r = get_global_id(0);
    __global const float *xr = x + x_off + (size_t)r * C;
    __global const float *dyr = dy + dy_off + (size_t)r * C;
    __global const float *mr = mod + mod_off + (size_t)r * mod_stride;
    __global float *dmr = dmod + dmod_off + (size_t)r * mod_stride;
    __global float *dxr = dx + dx_off + (size_t)r * C;
    const float mean = stats[stats_off + 2 * r], rstd = stats[stats_off + 2 * r + 1];
    float sum_dxhat = 0.0f, sum_dxhat_xhat = 0.0f;
    for (int j = 0; j < C; j++) {
        const float xhat = (xr[j] - mean) * rstd;
        const float s = has_mod ? mr[j] : 0.0f;
        const float m = has_mod ? xhat * (1.0f + s) + mr[C + j] : xhat;
        const float g = dyr[j] * act_derivative(m, ACT);
        if (has_mod) { dmr[j] = g * xhat; dmr[C + j] = g; }
        const float dxhat = g * (1.0f + s);
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * xhat;
    }
    const float a = sum_dxhat / C, b = sum_dxhat_xhat / C;
    for (int j = 0; j < C; j++) {
        const float xhat = (xr[j] - mean) * rstd;
        const float s = has_mod ? mr[j] : 0.0f;
        const float m = has_mod ? xhat * (1.0f + s) + mr[C + j] : xhat;
        const float dxhat = dyr[j] * act_derivative(m, ACT) * (1.0f + s);
        const float v = rstd * (dxhat - a - xhat * b);
        dxr[j] = accumulate ? dxr[j] + v : v;
    }
}
