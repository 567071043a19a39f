// attention.cl: multi-head self-attention over the pixels of each image (Vaswani et al. 2017; ADM's AttentionBlock,
// Dhariwal & Nichol 2021), on the rows of a qkv matrix made by one product:
//   qkv is (N * T) x 3C row-major: sample n's token (pixel) t holds q at columns [0, C), k at [C, 2C), v at [2C, 3C);
//   head h owns the d = C / H columns [h d, (h + 1) d) of each.
//   P[n, h, i, :] = softmax_j(scale * q[n, i, h] . k[n, j, h])      scale = 1 / sqrt(d)
//   o[n, i, h d + c] = sum_j P[n, h, i, j] v[n, j, h d + c]
// P is kept, (N * H * T) x T, for the backward. CPU twins: Reference.attention / attentionBackward (AttentionOps.swift).
// The products are T x T x d per head (49 x 49 x 64 at a U-Net's 7x7 level), too small for the tiled matmul to pay
// for its packing: each work-item computes one row of P, or one output element, walking contiguous rows.

// Range: [N * H * T], one row of P per work-item: the scores, their max, then the normalised exponentials.
__kernel void attention_probabilities(const int T, const int C, const int H, const float scale,
                                      __global const float *qkv, const int qkv_off, __global float *p, const int p_off) {
    const int row = get_global_id(0);
    const int i = row % T, h = (row / T) % H, n = row / (T * H), d = C / H;
    __global const float *q = qkv + qkv_off + (size_t)(n * T + i) * 3 * C + h * d;
    __global const float *k = qkv + qkv_off + (size_t)n * T * 3 * C + C + h * d;
    __global float *out = p + p_off + (size_t)row * T;
    float m = -INFINITY;
    for (int j = 0; j < T; ++j) {
        __global const float *kj = k + (size_t)j * 3 * C;
        float s = 0.0f;
        for (int c = 0; c < d; ++c) s = fma(q[c], kj[c], s);
        s *= scale;
        out[j] = s;
        m = fmax(m, s);
    }
    float sum = 0.0f;
    for (int j = 0; j < T; ++j) {
        const float e = exp(out[j] - m);
        out[j] = e;
        sum += e;
    }
    const float inv = 1.0f / sum;
    for (int j = 0; j < T; ++j) out[j] *= inv;
}

// Range: [C, N * T]: o[n, i, c] = sum_j P[n, h(c), i, j] v[n, j, c].
__kernel void attention_values(const int T, const int C, const int H,
                               __global const float *qkv, const int qkv_off, __global const float *p, const int p_off,
                               __global float *o, const int o_off) {
    const int c = get_global_id(0), r = get_global_id(1);
    const int n = r / T, i = r % T, h = c / (C / H);
    __global const float *pr = p + p_off + (size_t)((n * H + h) * T + i) * T;
    __global const float *v = qkv + qkv_off + (size_t)n * T * 3 * C + 2 * C + c;
    float s = 0.0f;
    for (int j = 0; j < T; ++j) s = fma(pr[j], v[(size_t)j * 3 * C], s);
    o[o_off + (size_t)r * C + c] = s;
}

// Range: [N * H * T]. The gradient of the scores (times `scale`, so the next kernel needs no factor), one row per
// work-item: dP_j = dO_i . v_j, then the softmax's Jacobian dS_j = P_j (dP_j - sum_k P_k dP_k).
__kernel void attention_scores_backward(const int T, const int C, const int H, const float scale,
                                        __global const float *qkv, const int qkv_off, __global const float *p, const int p_off,
                                        __global const float *dout, const int dout_off, __global float *ds, const int ds_off) {
    const int row = get_global_id(0);
    const int i = row % T, h = (row / T) % H, n = row / (T * H), d = C / H;
    __global const float *g = dout + dout_off + (size_t)(n * T + i) * C + h * d;
    __global const float *v = qkv + qkv_off + (size_t)n * T * 3 * C + 2 * C + h * d;
    __global const float *pr = p + p_off + (size_t)row * T;
    __global float *out = ds + ds_off + (size_t)row * T;
    float dot = 0.0f;
    for (int j = 0; j < T; ++j) {
        __global const float *vj = v + (size_t)j * 3 * C;
        float s = 0.0f;
        for (int c = 0; c < d; ++c) s = fma(g[c], vj[c], s);
        out[j] = s;
        dot = fma(pr[j], s, dot);
    }
    for (int j = 0; j < T; ++j) out[j] = scale * pr[j] * (out[j] - dot);
}

// Range: [C, N * T]. Token t's q, k and v gradients in channel c (head h):
//   dq[t, c] = sum_j dS[n, h, t, j] k[j, c];  dk[t, c] = sum_i dS[n, h, i, t] q[i, c];  dv[t, c] = sum_i P[n, h, i, t] dO[i, c]
// written into dqkv's three column blocks.
__kernel void attention_inputs_backward(const int T, const int C, const int H,
                                        __global const float *qkv, const int qkv_off, __global const float *p, const int p_off,
                                        __global const float *ds, const int ds_off, __global const float *dout, const int dout_off,
                                        __global float *dqkv, const int dqkv_off) {
    const int c = get_global_id(0), r = get_global_id(1);
    const int n = r / T, t = r % T, h = c / (C / H);
    __global const float *base = qkv + qkv_off + (size_t)n * T * 3 * C;
    __global const float *dsh = ds + ds_off + (size_t)(n * H + h) * T * T;
    __global const float *ph = p + p_off + (size_t)(n * H + h) * T * T;
    __global const float *g = dout + dout_off + (size_t)n * T * C + c;
    float dq = 0.0f, dk = 0.0f, dv = 0.0f;
    for (int j = 0; j < T; ++j) {
        dq = fma(dsh[(size_t)t * T + j], base[(size_t)j * 3 * C + C + c], dq);
        dk = fma(dsh[(size_t)j * T + t], base[(size_t)j * 3 * C + c], dk);
        dv = fma(ph[(size_t)j * T + t], g[(size_t)j * C], dv);
    }
    __global float *out = dqkv + dqkv_off + (size_t)r * 3 * C;
    out[c] = dq;
    out[C + c] = dk;
    out[2 * C + c] = dv;
}

// Range: [N * H * T]. The tangent of one row of P along the tangent tqkv of qkv:
//   tS_j = scale * (tq_i . k_j + q_i . tk_j);  tP_j = P_j (tS_j - sum_k P_k tS_k)      (the softmax's Jacobian)
__kernel void attention_probabilities_tangent(const int T, const int C, const int H, const float scale,
                                              __global const float *qkv, const int qkv_off, __global const float *tqkv, const int tqkv_off,
                                              __global const float *p, const int p_off, __global float *tp, const int tp_off) {
    const int row = get_global_id(0);
    const int i = row % T, h = (row / T) % H, n = row / (T * H), d = C / H;
    const size_t query = (size_t)(n * T + i) * 3 * C + h * d, keys = (size_t)n * T * 3 * C + C + h * d;
    __global const float *q = qkv + qkv_off + query, *tq = tqkv + tqkv_off + query;
    __global const float *k = qkv + qkv_off + keys, *tk = tqkv + tqkv_off + keys;
    __global const float *pr = p + p_off + (size_t)row * T;
    __global float *out = tp + tp_off + (size_t)row * T;
    float dot = 0.0f;
    for (int j = 0; j < T; ++j) {
        __global const float *kj = k + (size_t)j * 3 * C, *tkj = tk + (size_t)j * 3 * C;
        float s = 0.0f;
        for (int c = 0; c < d; ++c) s = fma(tq[c], kj[c], fma(q[c], tkj[c], s));
        s *= scale;
        out[j] = s;
        dot = fma(pr[j], s, dot);
    }
    for (int j = 0; j < T; ++j) out[j] = pr[j] * (out[j] - dot);
}

// Range: [C, N * T]: to[n, i, c] = sum_j tP[n, h(c), i, j] v[n, j, c] + P[n, h(c), i, j] tv[n, j, c].
__kernel void attention_values_tangent(const int T, const int C, const int H,
                                       __global const float *qkv, const int qkv_off, __global const float *tqkv, const int tqkv_off,
                                       __global const float *p, const int p_off, __global const float *tp, const int tp_off,
                                       __global float *to, const int to_off) {
    const int c = get_global_id(0), r = get_global_id(1);
    const int n = r / T, i = r % T, h = c / (C / H);
    const size_t prow = (size_t)((n * H + h) * T + i) * T, values = (size_t)n * T * 3 * C + 2 * C + c;
    __global const float *pr = p + p_off + prow, *tpr = tp + tp_off + prow;
    __global const float *v = qkv + qkv_off + values, *tv = tqkv + tqkv_off + values;
    float s = 0.0f;
    for (int j = 0; j < T; ++j) s = fma(tpr[j], v[(size_t)j * 3 * C], fma(pr[j], tv[(size_t)j * 3 * C], s));
    to[to_off + (size_t)r * C + c] = s;
}
