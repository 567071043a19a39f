// reduce.cl: deterministic reductions. Every sum runs in a fixed order that depends only on the shape and
// the chunk size, never on scheduling, so the same inputs give the same bits on every run of a device.
//   column_partials / column_finish   out[c] = alpha * sum_r x[r, c] (+ out[c] when accumulating: bias gradients)
//   row_sums                          out[r] = alpha * sum_c x[r, c]
//   chunk_sums / chunk_finish         out = alpha * sum_i x[i] (or x[i]^2 when square != 0; norms)

// partial[chunk, c] = sum of rows [chunk * rows_per_chunk, ...) of columns [16 g, 16 g + 16), times alpha (plus
// the old value when `accumulate`) when chunks == 1. Whole groups of 16 columns load rows as float16 vectors;
// the last partial group goes scalar.
// Range: [ceil(C / 16), chunks].
__kernel void column_partials(const int R, const int C, const int rows_per_chunk, const float alpha, const int accumulate,
                              __global const float *x, const int x_off, __global float *partial, const int partial_off) {
    const int c0 = get_global_id(0) * 16;
    const int chunk = get_global_id(1);
    const int start = chunk * rows_per_chunk;
    const int end = min(R, start + rows_per_chunk);
    const int single = get_global_size(1) == 1;
    const float scale = single ? alpha : 1.0f;
    const int add = single && accumulate;
    __global float *out = partial + partial_off + chunk * C + c0;
    if (c0 + 16 <= C) {
        float16 sum = (float16)(0.0f);
        for (int r = start; r < end; r++) sum += vload16(0, x + x_off + r * C + c0);
        vstore16(add ? scale * sum + vload16(0, out) : scale * sum, 0, out);
    } else {
        for (int c = 0; c0 + c < C; c++) {
            float sum = 0.0f;
            for (int r = start; r < end; r++) sum += x[x_off + r * C + c0 + c];
            out[c] = add ? scale * sum + out[c] : scale * sum;
        }
    }
}

// out[c] = alpha * sum over chunks of partial[chunk, c], chunks in order (+ out[c] when `accumulate`). Range: [C].
__kernel void column_finish(const int chunks, const int C, const float alpha, const int accumulate,
                            __global const float *partial, __global float *out, const int out_off) {
    const int c = get_global_id(0);
    float sum = 0.0f;
    for (int k = 0; k < chunks; k++) sum += partial[k * C + c];
    out[out_off + c] = accumulate ? alpha * sum + out[out_off + c] : alpha * sum;
}

// Range: [R].
__kernel void row_sums(const int C, const float alpha, __global const float *x, const int x_off,
                       __global float *out, const int out_off) {
    const int r = get_global_id(0);
    __global const float *row = x + x_off + r * C;
    float sum = 0.0f;
    for (int c = 0; c < C; c++) sum += row[c];
    out[out_off + r] = alpha * sum;
}

// partial[chunk] = sum of x[i] (or x[i]^2) over [chunk * chunk_size, ...). Sixteen lanes accumulate elements
// i = 16 j + lane and are added in lane order at the end (a scalar chain would be bound by the add's latency);
// the tail past the last whole vector goes scalar. Range: [chunks].
__kernel void chunk_sums(const int n, const int chunk_size, const int square, __global const float *x, const int x_off,
                         __global float *partial) {
    const int chunk = get_global_id(0);
    const int start = chunk * chunk_size;
    const int end = min(n, start + chunk_size);
    __global const float *p = x + x_off;
    float16 lanes = (float16)(0.0f);
    int i = start;
    if (square) { for (; i + 16 <= end; i += 16) { const float16 v = vload16(0, p + i); lanes = fma(v, v, lanes); } }
    else { for (; i + 16 <= end; i += 16) lanes += vload16(0, p + i); }
    float lane[16];
    vstore16(lanes, 0, lane);
    float sum = 0.0f;
    for (int l = 0; l < 16; l++) sum += lane[l];
    for (; i < end; i++) { const float v = p[i]; sum += square ? v * v : v; }
    partial[chunk] = sum;
}

// out[0] = alpha * sum of the partials, in order. Range: [1].
__kernel void chunk_finish(const int chunks, const float alpha, __global const float *partial,
                           __global float *out, const int out_off) {
    float sum = 0.0f;
    for (int k = 0; k < chunks; k++) sum += partial[k];
    out[out_off] = alpha * sum;
}

// Sums of S consecutive rows: out[g * out_stride + c] = sum_{s < S} x[(g S + s) * W + c], in row order (no atomics),
// overwriting. Range: [W, G].
__kernel void row_segment_sums(const int W, const int S, __global const float *x, const int x_off,
                               __global float *out, const int out_off, const int out_stride) {
    const int c = get_global_id(0), g = get_global_id(1);
    __global const float *first = x + x_off + (size_t)g * S * W + c;
    float sum = 0.0f;
    for (int s = 0; s < S; s++) sum += first[(size_t)s * W];
    out[out_off + (size_t)g * out_stride + c] = sum;
}
