// groupnorm_wg.cl: the GPU shape of groupnorm.cl's three kernels (same arguments, same results; groupnorm.cl is
// prepended by the host for its macros and activations). One work-group of WG work-items per sample instead of one
// work-item: a GPU runs a few hundred samples' worth of work-items at once, not one per sample, and each work-item
// keeps only a channel's partial sums instead of every channel's.
//   1. Per-channel sums over the sample's pixels. With WG >= CH, work-item lid sums channel lid % CH over the pixel
//      slice lid / CH (SLICES slices, pixels SLICES apart, so neighbouring work-items read neighbouring channels of a
//      pixel), and the slices are added in local memory; with WG < CH each work-item sums channels lid, lid + WG, ...
//      over all pixels.
//   2. Per-group sums of the channel sums (work-items over groups).
//   3. The elementwise pass, work-items striding the sample's P x CH values in memory order.
// Range: [N * WG], local [WG]. CPU twins: Reference.groupNorm / groupNormBackward (GroupNormOps.swift), as groupnorm.cl's.
#ifndef WG
#define WG 64
#endif
#define SLICES (WG >= CH ? WG / CH : 1)

// The per-channel sums (u, v) of work-item lid into chan_u, chan_v: the slices' partials in part_u, part_v added when
// SLICES > 1 (each work-item wrote its own chan entries otherwise). Every work-item calls it; it ends on a barrier.
inline void combine_slices(const int lid, __local float *part_u, __local float *part_v, __local float *chan_u, __local float *chan_v) {
    barrier(CLK_LOCAL_MEM_FENCE);
    if (SLICES > 1 && lid < CH) {
        float u = 0.0f, v = 0.0f;
        for (int s = 0; s < SLICES; s++) { u += part_u[s * CH + lid]; v += part_v[s * CH + lid]; }
        chan_u[lid] = u;
        chan_v[lid] = v;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

// Stores a work-item's sums of channel c: its slice's partial, or the channel's whole sum.
inline void store_channel(const int lid, const int c, const float u, const float v, __local float *part_u, __local float *part_v,
                          __local float *chan_u, __local float *chan_v) {
    if (SLICES > 1) { part_u[lid] = u; part_v[lid] = v; } else { chan_u[c] = u; chan_v[c] = v; }
}

// Each group's means of the channel sums, weighted by 1 + scale when `weighted` (the backward's dxhat = q (1 + scale)):
// a[g] from chan_v (the plain sums), b[g] from chan_u (the sums weighted by xhat). Ends on a barrier.
inline void group_means(const int lid, __local const float *chan_u, __local const float *chan_v, __global const float *scale,
                        const int weighted, const float count, __local float *a, __local float *b) {
    for (int g = lid; g < GROUPS; g += WG) {
        float u = 0.0f, v = 0.0f;
        for (int j = 0; j < CG; j++) {
            const int c = g * CG + j;
            const float w = weighted ? 1.0f + scale[c] : 1.0f;
            u += chan_u[c] * w;
            v += chan_v[c] * w;
        }
        a[g] = v / count;
        b[g] = u / count;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

// The channels work-item lid sums in phase 1: from first_channel, CHANNEL_STEP apart (one channel when SLICES > 1);
// its pixels: from first_pixel, SLICES apart. Work-items past SLICES * CH sum nothing.
#define FIRST_CHANNEL(lid) (SLICES > 1 ? ((lid) < SLICES * CH ? (lid) % CH : CH) : (lid))
#define CHANNEL_STEP (SLICES > 1 ? CH : WG)
#define FIRST_PIXEL(lid) (SLICES > 1 ? (lid) / CH : 0)

__kernel void groupnorm_forward_wg(const int P, const float eps, const int has_mod,
                                   __global const float *x, const int x_off, __global float *y, const int y_off,
                                   __global float *stats, const int stats_off,
                                   __global const float *mod, const int mod_off, const int mod_stride) {
    __local float part_u[WG], part_v[WG], chan_u[CH], chan_v[CH], mean[GROUPS], rstd[GROUPS];
    const int n = get_group_id(0), lid = get_local_id(0);
    __global const float *xs = x + x_off + (size_t)n * P * CH;
    __global float *ys = y + y_off + (size_t)n * P * CH;
    __global const float *mn = mod + mod_off + (size_t)(n / MODR) * mod_stride;
    // Both moments in one pass, shifted by each group's first value so that E[d^2] - E[d]^2 does not cancel.
    for (int c = FIRST_CHANNEL(lid); c < CH; c += CHANNEL_STEP) {
        const float origin = xs[(c / CG) * CG];
        float u = 0.0f, v = 0.0f;
        for (int p = FIRST_PIXEL(lid); p < P; p += SLICES) { const float d = xs[(size_t)p * CH + c] - origin; u += d; v += d * d; }
        store_channel(lid, c, u, v, part_u, part_v, chan_u, chan_v);
    }
    combine_slices(lid, part_u, part_v, chan_u, chan_v);
    const float count = (float)P * CG;
    for (int g = lid; g < GROUPS; g += WG) {
        float u = 0.0f, v = 0.0f;
        for (int j = 0; j < CG; j++) { u += chan_u[g * CG + j]; v += chan_v[g * CG + j]; }
        const float dmean = u / count;
        mean[g] = xs[g * CG] + dmean;
        rstd[g] = rsqrt(fmax(v / count - dmean * dmean, 0.0f) + eps);
        stats[stats_off + 2 * (n * GROUPS + g)] = mean[g];
        stats[stats_off + 2 * (n * GROUPS + g) + 1] = rstd[g];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = lid; k < P * CH; k += WG) {
        const int c = k % CH, g = c / CG;
        const float xhat = (xs[k] - mean[g]) * rstd[g];
        ys[k] = act_forward(has_mod ? xhat * (1.0f + mn[c]) + mn[CH + c] : xhat, ACT);
    }
}

__kernel void groupnorm_backward_wg(const int P, const int has_mod, const int accumulate,
                                    __global const float *dy, const int dy_off, __global const float *x, const int x_off,
                                    __global const float *stats, const int stats_off,
                                    __global const float *mod, const int mod_off, const int mod_stride,
                                    __global float *dmod, const int dmod_off, const int dmod_stride,
                                    __global float *dx, const int dx_off) {
    __local float part_u[WG], part_v[WG], chan_u[CH], chan_v[CH], a[GROUPS], b[GROUPS];
    const int n = get_group_id(0), lid = get_local_id(0);
    const size_t base = (size_t)n * P * CH;
    __global const float *xs = x + x_off + base, *dys = dy + dy_off + base;
    __global float *dxs = dx + dx_off + base;
    __global const float *mn = mod + mod_off + (size_t)(n / MODR) * mod_stride;
    __global float *dmn = dmod + dmod_off + (size_t)n * dmod_stride;
    __global const float *st = stats + stats_off + 2 * n * GROUPS;
    // Per channel: dscale = sum_p q xhat (u), dshift = sum_p q (v).
    for (int c = FIRST_CHANNEL(lid); c < CH; c += CHANNEL_STEP) {
        const float mu = st[2 * (c / CG)], r = st[2 * (c / CG) + 1];
        float u = 0.0f, v = 0.0f;
        for (int p = FIRST_PIXEL(lid); p < P; p += SLICES) {
            const size_t i = (size_t)p * CH + c;
            const float xhat = (xs[i] - mu) * r;
            const float q = dys[i] * act_derivative(has_mod ? xhat * (1.0f + mn[c]) + mn[CH + c] : xhat, ACT);
            u += q * xhat;
            v += q;
        }
        store_channel(lid, c, u, v, part_u, part_v, chan_u, chan_v);
    }
    combine_slices(lid, part_u, part_v, chan_u, chan_v);
    if (has_mod) for (int c = lid; c < CH; c += WG) { dmn[c] = chan_u[c]; dmn[CH + c] = chan_v[c]; }
    // a = mean(dxhat), b = mean(dxhat xhat) over each group.
    group_means(lid, chan_u, chan_v, mn, has_mod, (float)P * CG, a, b);
    for (int k = lid; k < P * CH; k += WG) {
        const int c = k % CH, g = c / CG;
        const float s = has_mod ? mn[c] : 0.0f, r = st[2 * g + 1];
        const float xhat = (xs[k] - st[2 * g]) * r;
        const float m = has_mod ? xhat * (1.0f + s) + mn[CH + c] : xhat;
        const float value = r * (dys[k] * act_derivative(m, ACT) * (1.0f + s) - a[g] - xhat * b[g]);
        dxs[k] = accumulate ? dxs[k] + value : value;
    }
}

__kernel void groupnorm_tangent_wg(const int P, const int has_mod, const int has_tx, const int has_tmod,
                                   __global const float *x, const int x_off, __global const float *tx, const int tx_off,
                                   __global const float *stats, const int stats_off,
                                   __global const float *mod, const int mod_off, const int mod_stride,
                                   __global const float *tmod, const int tmod_off, __global float *ty, const int ty_off) {
    __local float part_u[WG], part_v[WG], chan_u[CH], chan_v[CH], a[GROUPS], b[GROUPS];
    const int n = get_group_id(0), lid = get_local_id(0);
    const size_t base = (size_t)n * P * CH;
    __global const float *xs = x + x_off + base, *txs = tx + tx_off + base;
    __global float *tys = ty + ty_off + base;
    __global const float *mn = mod + mod_off + (size_t)(n / MODR) * mod_stride;
    __global const float *tmn = tmod + tmod_off + (size_t)(n / MODR) * mod_stride;
    __global const float *st = stats + stats_off + 2 * n * GROUPS;
    // Per channel: sum_p xhat tx (u) and sum_p tx (v); zero without a tangent of x.
    for (int c = FIRST_CHANNEL(lid); c < CH; c += CHANNEL_STEP) {
        const float mu = st[2 * (c / CG)], r = st[2 * (c / CG) + 1];
        float u = 0.0f, v = 0.0f;
        for (int p = FIRST_PIXEL(lid); has_tx && p < P; p += SLICES) {
            const size_t i = (size_t)p * CH + c;
            u += (xs[i] - mu) * r * txs[i];
            v += txs[i];
        }
        store_channel(lid, c, u, v, part_u, part_v, chan_u, chan_v);
    }
    combine_slices(lid, part_u, part_v, chan_u, chan_v);
    // a = mean(tx), b = mean(xhat tx) over each group.
    group_means(lid, chan_u, chan_v, mn, 0, (float)P * CG, a, b);
    for (int k = lid; k < P * CH; k += WG) {
        const int c = k % CH, g = c / CG;
        const float s = has_mod ? mn[c] : 0.0f, r = st[2 * g + 1];
        const float xhat = (xs[k] - st[2 * g]) * r;
        const float m = has_mod ? xhat * (1.0f + s) + mn[CH + c] : xhat;
        const float txhat = has_tx ? r * (txs[k] - a[g] - xhat * b[g]) : 0.0f;
        const float tm = txhat * (1.0f + s) + (has_tmod ? xhat * tmn[c] + tmn[CH + c] : 0.0f);
        tys[k] = act_derivative(m, ACT) * tm;
    }
}
