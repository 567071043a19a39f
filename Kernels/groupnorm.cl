// groupnorm.cl: GroupNorm (Wu & He 2018) over NHWC activations, without an affine of its own, optionally followed
// by a per-sample FiLM modulation (Perez et al. 2018; ADM's scale-shift norm, Dhariwal & Nichol 2021; DiT's adaLN)
// and an activation. LayerNorm over a row is the case of one pixel and one group.
//   x is (N * P) x C row-major: sample n's pixel p, channel c at ((n * P + p) * C + c). G groups of C / G
//   consecutive channels; group (n, g) normalises its P * C/G values:
//   xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps)   (biased variance, as torch.nn.GroupNorm)
//   y    = act(xhat * (1 + scale[n, c]) + shift[n, c])     (scale = shift = 0 without modulation)
// The modulation of sample n lies at mod[mod_off + n * mod_stride + c] (scale) and `+ C + c` (shift): one norm's
// slice of a conditioning matrix that holds every norm's (scale, shift) side by side, so one matmul makes all of
// them. CPU twins: Reference.groupNorm / groupNormBackward (GroupNormOps.swift).
//
// One work-item per (sample, group): a group is a few hundred to a few thousand floats, and the 2-core CPU wants one
// long loop per item. Both kernels walk a group pixel by pixel (its channels adjacent), with the per-channel sums of
// the backward in private arrays of the compile-time group width CG: walking channel by channel, C floats apart, made
// the U-Net step's 17 backward launches take 163 ms (bench profile --arch unet, batch 64). The activation is the
// compile-time ACT (activations.cl's numbering): with the run-time switch inside the loops the LayerNorm launches of
// a resmlp step took 2.1x as long (bench profile --arch resmlp, batch 512: 8.5 against 4.0 ms). The host passes
// -D ACT=n -D CG=C/G. (A GPU would prefer a work-group per group with a local reduction; this file has none yet.)
#ifndef ACT
#define ACT 0
#endif
#ifndef CG
#define CG 1
#endif

// Range: [N * G]. stats[2 i] = mean, stats[2 i + 1] = rstd of group i = n * G + g (what the backward needs).
__kernel void groupnorm_forward(const int P, const int C, const int G, const float eps, const int has_mod,
                                __global const float *x, const int x_off, __global float *y, const int y_off,
                                __global float *stats, const int stats_off,
                                __global const float *mod, const int mod_off, const int mod_stride) {
    const int item = get_global_id(0);
    const int n = item / G, cg = CG, c0 = (item % G) * cg;
    const size_t base = (size_t)n * P * C + c0;
    __global const float *xg = x + x_off + base;
    __global float *yg = y + y_off + base;
    const float count = (float)P * cg;
    // One pass over the group for both moments, shifted by its first value so that E[d^2] - E[d]^2 does not cancel.
    const float shift = xg[0];
    float sum = 0.0f, sq = 0.0f;
    for (int p = 0; p < P; p++)
        for (int j = 0; j < cg; j++) { const float d = xg[(size_t)p * C + j] - shift; sum += d; sq += d * d; }
    const float dmean = sum / count;
    const float mean = shift + dmean;
    const float rstd = rsqrt(fmax(sq / count - dmean * dmean, 0.0f) + eps);
    stats[stats_off + 2 * item] = mean;
    stats[stats_off + 2 * item + 1] = rstd;
    __global const float *mn = mod + mod_off + (size_t)n * mod_stride + c0;
    for (int p = 0; p < P; p++) {
        for (int j = 0; j < cg; j++) {
            const size_t i = (size_t)p * C + j;
            const float xhat = (xg[i] - mean) * rstd;
            const float m = has_mod ? xhat * (1.0f + mn[j]) + mn[C + j] : xhat;
            yg[i] = act_forward(m, ACT);
        }
    }
}

// The adjoint of groupnorm_forward for group (n, g), given dy:
//   q = dy * act'(m);  dshift[n, c] = sum_p q;  dscale[n, c] = sum_p q * xhat;  dxhat = q * (1 + scale)
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))      (means over the group)
// dx is added to what is already there when `accumulate` (the skip path of a residual block), and the
// modulation's gradient goes to dmod in the modulation's layout (overwritten: it is an activation's gradient).
// Range: [N * G].
__kernel void groupnorm_backward(const int P, const int C, const int G, const int has_mod, const int accumulate,
                                 __global const float *dy, const int dy_off, __global const float *x, const int x_off,
                                 __global const float *stats, const int stats_off,
                                 __global const float *mod, const int mod_off, const int mod_stride,
                                 __global float *dmod, const int dmod_off, __global float *dx, const int dx_off) {
    const int item = get_global_id(0);
    const int n = item / G, cg = CG, c0 = (item % G) * cg;
    const size_t base = (size_t)n * P * C + c0;
    __global const float *xg = x + x_off + base;
    __global const float *dyg = dy + dy_off + base;
    __global float *dxg = dx + dx_off + base;
    __global const float *mn = mod + mod_off + (size_t)n * mod_stride + c0;
    __global float *dmn = dmod + dmod_off + (size_t)n * mod_stride + c0;
    const float mean = stats[stats_off + 2 * item], rstd = stats[stats_off + 2 * item + 1];
    float dscale[CG], dshift[CG];
    for (int j = 0; j < CG; j++) { dscale[j] = 0.0f; dshift[j] = 0.0f; }
    for (int p = 0; p < P; p++) {
        for (int j = 0; j < CG; j++) {
            const size_t i = (size_t)p * C + j;
            const float xhat = (xg[i] - mean) * rstd;
            const float q = dyg[i] * act_derivative(has_mod ? xhat * (1.0f + mn[j]) + mn[C + j] : xhat, ACT);
            dscale[j] += q * xhat;
            dshift[j] += q;
        }
    }
    float sum_dxhat = 0.0f, sum_dxhat_xhat = 0.0f;
    for (int j = 0; j < CG; j++) {
        const float s = has_mod ? mn[j] : 0.0f;
        if (has_mod) { dmn[j] = dscale[j]; dmn[C + j] = dshift[j]; }
        sum_dxhat += dshift[j] * (1.0f + s);
        sum_dxhat_xhat += dscale[j] * (1.0f + s);
    }
    const float count = (float)P * cg;
    const float a = sum_dxhat / count, bb = sum_dxhat_xhat / count;
    for (int p = 0; p < P; p++) {
        for (int j = 0; j < CG; j++) {
            const size_t i = (size_t)p * C + j;
            const float s = has_mod ? mn[j] : 0.0f;
            const float xhat = (xg[i] - mean) * rstd;
            const float m = has_mod ? xhat * (1.0f + s) + mn[C + j] : xhat;
            const float v = rstd * (dyg[i] * act_derivative(m, ACT) * (1.0f + s) - a - xhat * bb);
            dxg[i] = accumulate ? dxg[i] + v : v;
        }
    }
}
