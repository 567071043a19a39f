// groupnorm.cl: GroupNorm (Wu & He 2018) over NHWC activations, without an affine of its own, optionally followed
// by a per-sample FiLM modulation (Perez et al. 2018; ADM's scale-shift norm, Dhariwal & Nichol 2021; DiT's adaLN)
// and an activation. LayerNorm over a row is the case of one pixel and one group.
//   x is (N * P) x C row-major: sample n's pixel p, channel c at ((n * P + p) * C + c). G groups of C / G
//   consecutive channels; group (n, g) normalises its P * C/G values:
//   xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps)   (biased variance, as torch.nn.GroupNorm)
//   y    = act(xhat * (1 + scale[n, c]) + shift[n, c])     (scale = shift = 0 without modulation)
// The modulation of sample n lies at mod[mod_off + (n / MODR) * mod_stride + c] (scale) and `+ C + c` (shift): one
// norm's slice of a conditioning matrix that holds every norm's (scale, shift) side by side, so one matmul makes all
// of them. MODR consecutive samples share a modulation row (a DiT's tokens, normalised one by one, share their
// image's; a stride of 0 gives every sample the one row of a pass at shared times); the backward then writes each
// sample's modulation gradient to its own row of dmod (dmod_stride apart), which the host sums over the samples that
// share a row (reduce.cl's row_segment_sums). CPU twins: Reference.groupNorm / groupNormBackward (GroupNormOps.swift).
//
// One work-item per sample (and on CPUs one work-group, so that a batch of 64 samples spreads over the cores), walking
// its pixels in memory order with every channel's sums in private arrays: the channels C (CH), the groups G (GROUPS)
// and the activation (ACT, activations.cl's numbering) are compile-time, so the arrays are registers or L1 and the
// loops unroll. All three kernels go through a pixel's channels VW at a time (vectors.cl; the host picks 8 or 4 where C
// allows, else 1): a scalar walk ran SiLU's exp one value at a time and took 4-6 ns a value, most of a U-Net step's
// GroupNorm time. Sums are kept per channel (each shifted by its value at the first pixel) and folded into the groups
// after the pass (on the vectors where each lies within one group, WHOLE_VECTORS; else channel by channel, as a vector
// may straddle groups). Per sample rather than per (sample, group): a work-item per group
// walks its channels C floats apart, or fetches every cache line of a pixel once per group; the activation is
// compile-time because a run-time switch kept the loops from unrolling (measurements: docs/kernel-development.md).
// GPUs run groupnorm_wg.cl's kernels instead: a work-group per sample (`GroupNormVariant`).
#ifndef ACT
#define ACT 0
#endif
#ifndef CH
#define CH 1
#endif
#ifndef GROUPS
#define GROUPS 1
#endif
#ifndef MODR
#define MODR 1
#endif
#define CG (CH / GROUPS)
#define CV (CH / VW)
// Whether each VW-wide vector lies within one group (always for VW = 1; LayerNorm; groups of 8 channels and more):
// then the per-group folds run on the vectors and their lanes, otherwise channel by channel (a vector may straddle
// groups). The walk channel by channel after a one-pixel pass (LayerNorm) cost more than the pass.
#define WHOLE_VECTORS (CG % VW == 0)
#define CGV (CG / VW)
#if VW == 8
#define ACT_FORWARD_V(x) act_forward8(x, ACT)
#define ACT_DERIVATIVE_V(z) act_derivative8(z, ACT)
#elif VW == 4
#define ACT_FORWARD_V(x) act_forward4(x, ACT)
#define ACT_DERIVATIVE_V(z) act_derivative4(z, ACT)
#else
#define ACT_FORWARD_V(x) act_forward(x, ACT)
#define ACT_DERIVATIVE_V(z) act_derivative(z, ACT)
#endif

// The per-channel values of per-group ones, as VW-wide vectors: out[j] holds channels j VW ..< (j + 1) VW.
inline void channels_of_groups(const float *group_values, floatv *out) {
#if WHOLE_VECTORS
    for (int j = 0; j < CV; j++) out[j] = (floatv)(group_values[j / CGV]);
#else
    float values[CH];
    for (int c = 0; c < CH; c++) values[c] = group_values[c / CG];
    for (int j = 0; j < CV; j++) out[j] = LOADV(j, values);
#endif
}

// The modulation of one sample as vectors: one_plus_scale[j] = 1 + scale, shift[j] (1 and 0 without modulation).
inline void modulation_vectors(const int has_mod, __global const float *mn, floatv *one_plus_scale, floatv *shift) {
    for (int j = 0; j < CV; j++) {
        one_plus_scale[j] = has_mod ? (floatv)(1.0f) + LOADV(j, mn) : (floatv)(1.0f);
        shift[j] = has_mod ? LOADV(j, mn + CH) : (floatv)(0.0f);
    }
}

// Range: [N] (local [1] on CPUs). stats[2 (n G + g)] = mean, stats[2 (n G + g) + 1] = rstd (what the backward needs).
__kernel void groupnorm_forward(const int P, const float eps, const int has_mod,
                       __global const float *x, const int x_off, __global float *y, const int y_off,
                       __global float *stats, const int stats_off,
                       __global const float *mod, const int mod_off, const int mod_stride) {
    const int n = get_global_id(0);
    __global const float *xs = x + x_off + (size_t)n * P * CH;
    __global float *ys = y + y_off + (size_t)n * P * CH;
    __global const float *mn = mod + mod_off + (size_t)(n / MODR) * mod_stride;
    // Both moments in one pass, each channel shifted by its first value so that E[d^2] - E[d]^2 does not cancel.
    floatv origin[CV], sum[CV], sq[CV];
    for (int j = 0; j < CV; j++) { origin[j] = LOADV(j, xs); sum[j] = (floatv)(0.0f); sq[j] = (floatv)(0.0f); }
    for (int p = 0; p < P; p++) {
        __global const float *xp = xs + (size_t)p * CH;
        for (int j = 0; j < CV; j++) { const floatv d = LOADV(j, xp) - origin[j]; sum[j] += d; sq[j] = fma(d, d, sq[j]); }
    }
    float mean[GROUPS], rstd[GROUPS];
    // A group's squared deviations from its mean, channel by channel: sum_p (d - delta)^2 with delta = mean - origin.
    const float count = (float)P * CG;
#if WHOLE_VECTORS
    for (int g = 0; g < GROUPS; g++) {
        floatv m = (floatv)(0.0f);
        for (int j = g * CGV; j < (g + 1) * CGV; j++) m += origin[j] + sum[j] / (float)P;
        mean[g] = lane_sum(m) / (float)CG;
        floatv ss = (floatv)(0.0f);
        for (int j = g * CGV; j < (g + 1) * CGV; j++) {
            const floatv delta = (floatv)(mean[g]) - origin[j];
            ss += sq[j] - 2.0f * delta * sum[j] + (float)P * delta * delta;
        }
        rstd[g] = rsqrt(fmax(lane_sum(ss) / count, 0.0f) + eps);
    }
#else
    float o[CH], s1[CH], s2[CH];
    for (int j = 0; j < CV; j++) { STOREV(origin[j], j, o); STOREV(sum[j], j, s1); STOREV(sq[j], j, s2); }
    for (int g = 0; g < GROUPS; g++) {
        float m = 0.0f;
        for (int c = g * CG; c < (g + 1) * CG; c++) m += o[c] + s1[c] / (float)P;
        m /= (float)CG;
        float ss = 0.0f;
        for (int c = g * CG; c < (g + 1) * CG; c++) {
            const float delta = m - o[c];
            ss += s2[c] - 2.0f * delta * s1[c] + (float)P * delta * delta;
        }
        mean[g] = m;
        rstd[g] = rsqrt(fmax(ss / count, 0.0f) + eps);
    }
#endif
    for (int g = 0; g < GROUPS; g++) {
        stats[stats_off + 2 * (n * GROUPS + g)] = mean[g];
        stats[stats_off + 2 * (n * GROUPS + g) + 1] = rstd[g];
    }
    // y = act((x - mean) * rstd (1 + scale) + shift)
    floatv mv[CV], gain[CV], one_plus_scale[CV], shift[CV];
    channels_of_groups(mean, mv);
    channels_of_groups(rstd, gain);
    modulation_vectors(has_mod, mn, one_plus_scale, shift);
    for (int j = 0; j < CV; j++) gain[j] *= one_plus_scale[j];
    for (int p = 0; p < P; p++) {
        __global const float *xp = xs + (size_t)p * CH;
        __global float *yp = ys + (size_t)p * CH;
        for (int j = 0; j < CV; j++) STOREV(ACT_FORWARD_V(fma(LOADV(j, xp) - mv[j], gain[j], shift[j])), j, yp);
    }
}

// The adjoint of groupnorm_forward for sample n, given dy:
//   q = dy * act'(m);  dshift[n, c] = sum_p q;  dscale[n, c] = sum_p q * xhat;  dxhat = q * (1 + scale)
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))      (means over each group)
// dx is added to what is already there when `accumulate` (the skip path of a residual block), and the
// modulation's gradient goes to dmod in the modulation's layout (overwritten: it is an activation's gradient).
// Without `accumulate` the first pass keeps q in dx for the second, which would otherwise recompute act'(m): SiLU's
// exp a second time took 5.5 of a U-Net step's 18.4 ms of GroupNorm backward (keeping q: 16.0 ms).
// Range: [N] (local [1] on CPUs).
__kernel void groupnorm_backward(const int P, const int has_mod, const int accumulate,
                        __global const float *dy, const int dy_off, __global const float *x, const int x_off,
                        __global const float *stats, const int stats_off,
                        __global const float *mod, const int mod_off, const int mod_stride,
                        __global float *dmod, const int dmod_off, const int dmod_stride, __global float *dx, const int dx_off) {
    const int n = get_global_id(0);
    const size_t base = (size_t)n * P * CH;
    __global const float *xs = x + x_off + base;
    __global const float *dys = dy + dy_off + base;
    __global float *dxs = dx + dx_off + base;
    __global const float *mn = mod + mod_off + (size_t)(n / MODR) * mod_stride;
    __global float *dmn = dmod + dmod_off + (size_t)n * dmod_stride;
    float mean[GROUPS], rstd[GROUPS], a[GROUPS], b[GROUPS];
    for (int g = 0; g < GROUPS; g++) {
        mean[g] = stats[stats_off + 2 * (n * GROUPS + g)];
        rstd[g] = stats[stats_off + 2 * (n * GROUPS + g) + 1];
    }
    floatv mv[CV], rv[CV], one_plus_scale[CV], shift[CV], dscale[CV], dshift[CV];
    channels_of_groups(mean, mv);
    channels_of_groups(rstd, rv);
    modulation_vectors(has_mod, mn, one_plus_scale, shift);
    for (int j = 0; j < CV; j++) { dscale[j] = (floatv)(0.0f); dshift[j] = (floatv)(0.0f); }
    for (int p = 0; p < P; p++) {
        __global const float *xp = xs + (size_t)p * CH, *dyp = dys + (size_t)p * CH;
        for (int j = 0; j < CV; j++) {
            const floatv xhat = (LOADV(j, xp) - mv[j]) * rv[j];
            const floatv q = LOADV(j, dyp) * ACT_DERIVATIVE_V(fma(xhat, one_plus_scale[j], shift[j]));
            if (!accumulate) STOREV(q, j, dxs + (size_t)p * CH);
            dscale[j] = fma(q, xhat, dscale[j]);
            dshift[j] += q;
        }
    }
    const float count = (float)P * CG;
#if WHOLE_VECTORS
    if (has_mod) for (int j = 0; j < CV; j++) { STOREV(dscale[j], j, dmn); STOREV(dshift[j], j, dmn + CH); }
    for (int g = 0; g < GROUPS; g++) {
        floatv sum_dxhat = (floatv)(0.0f), sum_dxhat_xhat = (floatv)(0.0f);
        for (int j = g * CGV; j < (g + 1) * CGV; j++) {
            sum_dxhat = fma(dshift[j], one_plus_scale[j], sum_dxhat);
            sum_dxhat_xhat = fma(dscale[j], one_plus_scale[j], sum_dxhat_xhat);
        }
        a[g] = lane_sum(sum_dxhat) / count;
        b[g] = lane_sum(sum_dxhat_xhat) / count;
    }
#else
    float ds[CH], dh[CH];
    for (int j = 0; j < CV; j++) { STOREV(dscale[j], j, ds); STOREV(dshift[j], j, dh); }
    for (int g = 0; g < GROUPS; g++) {
        float sum_dxhat = 0.0f, sum_dxhat_xhat = 0.0f;
        for (int c = g * CG; c < (g + 1) * CG; c++) {
            const float s = has_mod ? mn[c] : 0.0f;
            if (has_mod) { dmn[c] = ds[c]; dmn[CH + c] = dh[c]; }
            sum_dxhat += dh[c] * (1.0f + s);
            sum_dxhat_xhat += ds[c] * (1.0f + s);
        }
        a[g] = sum_dxhat / count;
        b[g] = sum_dxhat_xhat / count;
    }
#endif
    floatv av[CV], bv[CV];
    channels_of_groups(a, av);
    channels_of_groups(b, bv);
    for (int p = 0; p < P; p++) {
        __global const float *xp = xs + (size_t)p * CH, *dyp = dys + (size_t)p * CH;
        __global float *dxp = dxs + (size_t)p * CH;
        for (int j = 0; j < CV; j++) {
            const floatv xhat = (LOADV(j, xp) - mv[j]) * rv[j];
            const floatv q = accumulate ? LOADV(j, dyp) * ACT_DERIVATIVE_V(fma(xhat, one_plus_scale[j], shift[j])) : LOADV(j, dxp);
            const floatv v = rv[j] * (q * one_plus_scale[j] - av[j] - xhat * bv[j]);
            STOREV(accumulate ? LOADV(j, dxp) + v : v, j, dxp);
        }
    }
}

// The tangent of groupnorm_forward for sample n along (tx, tmod), the tangents of x and of the modulation (each
// absent means zero), with xhat's tangent from the group statistics' own:
//   txhat = rstd * (tx - mean(tx) - xhat * mean(xhat * tx))      (means over each group)
//   tm = txhat * (1 + scale) + xhat * tscale + tshift;  ty = act'(m) * tm
// The modulation's tangent lies in the modulation's layout. Range: [N] (local [1] on CPUs).
__kernel void groupnorm_tangent(const int P, const int has_mod, const int has_tx, const int has_tmod,
                       __global const float *x, const int x_off, __global const float *tx, const int tx_off,
                       __global const float *stats, const int stats_off,
                       __global const float *mod, const int mod_off, const int mod_stride,
                       __global const float *tmod, const int tmod_off, __global float *ty, const int ty_off) {
    const int n = get_global_id(0);
    const size_t base = (size_t)n * P * CH;
    __global const float *xs = x + x_off + base;
    __global const float *txs = tx + tx_off + base;
    __global float *tys = ty + ty_off + base;
    __global const float *mn = mod + mod_off + (size_t)(n / MODR) * mod_stride;
    __global const float *tmn = tmod + tmod_off + (size_t)(n / MODR) * mod_stride;
    float mean[GROUPS], rstd[GROUPS], a[GROUPS], b[GROUPS];
    for (int g = 0; g < GROUPS; g++) {
        mean[g] = stats[stats_off + 2 * (n * GROUPS + g)];
        rstd[g] = stats[stats_off + 2 * (n * GROUPS + g) + 1];
        a[g] = 0.0f; b[g] = 0.0f;
    }
    floatv mv[CV], rv[CV], one_plus_scale[CV], shift[CV], tscale[CV], tshift[CV], av[CV], bv[CV];
    channels_of_groups(mean, mv);
    channels_of_groups(rstd, rv);
    modulation_vectors(has_mod, mn, one_plus_scale, shift);
    for (int j = 0; j < CV; j++) {
        tscale[j] = has_tmod ? LOADV(j, tmn) : (floatv)(0.0f);
        tshift[j] = has_tmod ? LOADV(j, tmn + CH) : (floatv)(0.0f);
    }
    if (has_tx) {
        floatv sum_t[CV], sum_xt[CV];
        for (int j = 0; j < CV; j++) { sum_t[j] = (floatv)(0.0f); sum_xt[j] = (floatv)(0.0f); }
        for (int p = 0; p < P; p++) {
            __global const float *xp = xs + (size_t)p * CH, *txp = txs + (size_t)p * CH;
            for (int j = 0; j < CV; j++) {
                const floatv t = LOADV(j, txp);
                sum_t[j] += t;
                sum_xt[j] = fma((LOADV(j, xp) - mv[j]) * rv[j], t, sum_xt[j]);
            }
        }
        const float count = (float)P * CG;
#if WHOLE_VECTORS
        for (int g = 0; g < GROUPS; g++) {
            floatv total_t = (floatv)(0.0f), total_xt = (floatv)(0.0f);
            for (int j = g * CGV; j < (g + 1) * CGV; j++) { total_t += sum_t[j]; total_xt += sum_xt[j]; }
            a[g] = lane_sum(total_t) / count;
            b[g] = lane_sum(total_xt) / count;
        }
#else
        float st[CH], sxt[CH];
        for (int j = 0; j < CV; j++) { STOREV(sum_t[j], j, st); STOREV(sum_xt[j], j, sxt); }
        for (int g = 0; g < GROUPS; g++) {
            for (int c = g * CG; c < (g + 1) * CG; c++) { a[g] += st[c]; b[g] += sxt[c]; }
            a[g] /= count; b[g] /= count;
        }
#endif
    }
    channels_of_groups(a, av);
    channels_of_groups(b, bv);
    for (int p = 0; p < P; p++) {
        __global const float *xp = xs + (size_t)p * CH, *txp = txs + (size_t)p * CH;
        __global float *typ = tys + (size_t)p * CH;
        for (int j = 0; j < CV; j++) {
            const floatv xhat = (LOADV(j, xp) - mv[j]) * rv[j];
            const floatv txhat = has_tx ? rv[j] * (LOADV(j, txp) - av[j] - xhat * bv[j]) : (floatv)(0.0f);
            const floatv tm = fma(txhat, one_plus_scale[j], fma(xhat, tscale[j], tshift[j]));
            STOREV(ACT_DERIVATIVE_V(fma(xhat, one_plus_scale[j], shift[j])) * tm, j, typ);
        }
    }
}
