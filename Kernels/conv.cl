// conv.cl: the data movement of a 2-D convolution computed as a matrix product (im2col, Chellapilla et al. 2006):
//   cols[(n, yo, xo), (kh * K + kw) * C + c] = x[n, yo * S - pad + kh, xo * S - pad + kw, c]   (zero outside)
//   y = cols . W + b        W is (K * K * C) x Cout, so the product is matmul.cl's, with its tuning and epilogues
//   dW = cols^T . dy,  dcols = dy . W^T,  dx = col2im(dcols)   (col2im is im2col's adjoint)
// Layout: NHWC, activations are (N * H * W) x C matrices. Chosen because every other op of a U-Net is then a plain
// row-major matmul with no transposes: a 1x1 convolution is matmul(x, W) on the activations as they lie, the bias,
// residual add and activation ride in the matmul epilogue (one value per column), GroupNorm's FiLM reads one row per
// sample, and the product's M dimension is N * H * W (tens of thousands of rows), the shape the CPU matmul is
// fastest at. NCHW would need a batched product, or the (Cout x K*K*C) . (K*K*C x N*H*W) shape whose wide, short
// output the CPU kernel tiles worse; `bench kernels` measures both shapes beside each other (README, Benchmarks).
// CPU twins: Reference.im2col / col2im (ConvolutionOps.swift).

// Range: [K * K, N * Ho * Wo]. Sample n starts `sample_stride` floats after sample n - 1 (H * W * C for activations;
// more for a network input whose rows carry extra columns after the image).
__kernel void im2col(const int H, const int W, const int C, const int sample_stride, const int K, const int S,
                     const int pad, const int Ho, const int Wo,
                     __global const float *x, const int x_off, __global float *cols, const int cols_off) {
    const int tap = get_global_id(0), r = get_global_id(1);
    const int xo = r % Wo, yo = (r / Wo) % Ho, n = r / (Wo * Ho);
    const int yi = yo * S - pad + tap / K, xi = xo * S - pad + tap % K;
    __global float *dst = cols + cols_off + (size_t)r * K * K * C + (size_t)tap * C;
    if (yi < 0 || yi >= H || xi < 0 || xi >= W) {
        for (int c = 0; c < C; c++) dst[c] = 0.0f;
        return;
    }
    __global const float *src = x + x_off + (size_t)n * sample_stride + ((size_t)yi * W + xi) * C;
    for (int c = 0; c < C; c++) dst[c] = src[c];
}

// The adjoint of im2col (activations layout, sample stride H * W * C): every input pixel gathers the entries of
// dcols that copied it, at most K * K, so no two work-items write one place and the sum is in a fixed order.
// dx is overwritten, or added to when `accumulate` (a residual stream's gradient). K <= 3 (the taps fit 9 slots).
// Range: [N * H * W].
__kernel void col2im(const int H, const int W, const int C, const int K, const int S, const int pad,
                     const int Ho, const int Wo, const int accumulate,
                     __global const float *dcols, const int dcols_off, __global float *dx, const int dx_off) {
    const int r = get_global_id(0);
    const int xi = r % W, yi = (r / W) % H, n = r / (W * H);
    size_t from[9];
    int taps = 0;
    for (int kh = 0; kh < K; kh++) {
        const int ys = yi + pad - kh;
        if (ys < 0 || ys % S != 0 || ys / S >= Ho) continue;
        for (int kw = 0; kw < K; kw++) {
            const int xs = xi + pad - kw;
            if (xs < 0 || xs % S != 0 || xs / S >= Wo) continue;
            from[taps++] = ((size_t)(n * Ho + ys / S) * Wo + xs / S) * K * K * C + (size_t)(kh * K + kw) * C;
        }
    }
    __global const float *g = dcols + dcols_off;
    __global float *out = dx + dx_off + (size_t)r * C;
    for (int c = 0; c < C; c++) {
        float sum = accumulate ? out[c] : 0.0f;
        for (int t = 0; t < taps; t++) sum += g[from[t] + c];
        out[c] = sum;
    }
}
