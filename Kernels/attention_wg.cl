// attention_wg.cl: the GPU shape of attention.cl's forward (attention_probabilities then attention_values): the same
// arguments' meaning and the same results, P and o, in one kernel. attention.cl's per-row work-items each walk all T
// keys of their head with loads 3C floats apart, which a GPU cannot coalesce; here a work-group stages each head's
// keys and values through local memory in tiles that neighbouring work-items load from neighbouring addresses, and
// every tile is reused by all the group's query rows.
//   A work-group of WG work-items takes sample n, head h and a tile of ROWS = WG / LANES query rows; row r of the tile
//   belongs to the LANES work-items r * LANES ... r * LANES + LANES - 1 (`lane` below).
//   1. Scores by key tiles of KT keys: the tile's k rows go to local memory (KT x DH at row stride KS, odd so that
//      the lanes' rows fall in different banks; the query rows likewise, once). Each lane takes every LANES-th key of
//      the tile, writes the raw score s = scale q_i . k_j into P (the lanes of a row write neighbouring columns) and
//      keeps a running max m and sum l = sum exp(s - m), rescaling l when m grows (online softmax), so no pass over
//      the keys needs the row's max beforehand.
//   2. The lanes' (m, l) of a row merge in local memory into the row's max M and sum L.
//   3. By tiles of V: each lane rereads the raw scores it wrote (the same entries, so no other work-item's writes are
//      involved), writes P = exp(s - M) / L in their place (attentionBackward and attentionTangent read P) and into
//      local memory; then each lane accumulates every LANES-th output channel of its row over the tile's keys,
//      reading the tile's v rows from local memory. Channels side by side across lanes, so the final store of o is
//      coalesced too.
// The head width DH, WG, LANES and KT are compiled in (local arrays and the private accumulators are sized by them);
// T, C and H are arguments, so the token counts of a network's levels share one program per head width. The host
// picks KT so the local arrays fit the device and falls back to attention.cl where even the smallest tile would not.
// Range: [N * H * ceil(T / ROWS) * WG], local [WG]. CPU twin: Reference.attention (AttentionOps.swift).
#ifndef DH
#define DH 64
#endif
#ifndef WG
#define WG 256
#endif
#ifndef LANES
#define LANES 16
#endif
#ifndef KT
#define KT 64
#endif
#define ROWS (WG / LANES)
#define KS (DH | 1)
#define CPL ((DH + LANES - 1) / LANES)

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void attention_forward_wg(const int T, const int C, const int H, const float scale,
                          __global const float *qkv, const int qkv_off, __global float *p, const int p_off,
                          __global float *o, const int o_off) {
    __local float qs[ROWS * KS], kv[KT * KS], ps[ROWS * KT], part_m[WG], part_l[WG];
    const int lid = get_local_id(0), r = lid / LANES, lane = lid % LANES;
    const int tiles = (T + ROWS - 1) / ROWS, group = get_group_id(0);
    const int tile = group % tiles, h = (group / tiles) % H, n = group / (tiles * H);
    const int i0 = tile * ROWS, i = i0 + r;
    const bool row_valid = i < T;
    const size_t stride = (size_t)3 * C;
    __global const float *base = qkv + qkv_off + (size_t)n * T * stride + h * DH;
    __global float *prow = p + p_off + ((size_t)(n * H + h) * T + (row_valid ? i : 0)) * T;

    // The tile's query rows; rows past T are zeros, whose scores are computed and never stored.
    for (int k = lid; k < ROWS * DH; k += WG) {
        const int rr = k / DH, c = k % DH;
        qs[rr * KS + c] = i0 + rr < T ? base[(size_t)(i0 + rr) * stride + c] : 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int j0 = 0; j0 < T; j0 += KT) {
        const int count = min(KT, T - j0);
        barrier(CLK_LOCAL_MEM_FENCE);  // the previous tile's keys have been read (and qs written, the first time)
        for (int k = lid; k < count * DH; k += WG) {
            const int jj = k / DH, c = k % DH;
            kv[jj * KS + c] = base[(size_t)(j0 + jj) * stride + C + c];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int jj = lane; jj < count; jj += LANES) {
            float s = 0.0f;
            for (int c = 0; c < DH; ++c) s = fma(qs[r * KS + c], kv[jj * KS + c], s);
            s *= scale;
            if (row_valid) prow[j0 + jj] = s;
            if (s > m) { l = l * exp(m - s) + 1.0f; m = s; } else { l += exp(s - m); }
        }
    }
    // The row's max and sum from its lanes' (a lane without keys holds m = -inf, l = 0 and adds nothing).
    part_m[lid] = m;
    part_l[lid] = l;
    barrier(CLK_LOCAL_MEM_FENCE);
    float row_max = -INFINITY;
    for (int k = 0; k < LANES; ++k) row_max = fmax(row_max, part_m[r * LANES + k]);
    float row_sum = 0.0f;
    for (int k = 0; k < LANES; ++k) {
        const float lk = part_l[r * LANES + k];
        if (lk > 0.0f) row_sum += lk * exp(part_m[r * LANES + k] - row_max);
    }
    const float inv = 1.0f / row_sum;

    float acc[CPL];
    for (int k = 0; k < CPL; ++k) acc[k] = 0.0f;
    for (int j0 = 0; j0 < T; j0 += KT) {
        const int count = min(KT, T - j0);
        barrier(CLK_LOCAL_MEM_FENCE);  // the previous tile's values and probabilities have been read
        for (int k = lid; k < count * DH; k += WG) {
            const int jj = k / DH, c = k % DH;
            kv[jj * KS + c] = base[(size_t)(j0 + jj) * stride + 2 * C + c];
        }
        for (int jj = lane; jj < count; jj += LANES) {
            float prob = 0.0f;
            if (row_valid) {
                prob = exp(prow[j0 + jj] - row_max) * inv;
                prow[j0 + jj] = prob;
            }
            ps[r * KT + jj] = prob;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < CPL; ++k) {
            const int c = lane + k * LANES;
            if (c < DH) {
                float s = acc[k];
                for (int jj = 0; jj < count; ++jj) s = fma(ps[r * KT + jj], kv[jj * KS + c], s);
                acc[k] = s;
            }
        }
    }
    if (row_valid) {
        __global float *out = o + o_off + (size_t)(n * T + i) * C + h * DH;
        for (int k = 0; k < CPL; ++k) {
            const int c = lane + k * LANES;
            if (c < DH) out[c] = acc[k];
        }
    }
}
