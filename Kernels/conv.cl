// conv.cl: the data movement of a 2-D convolution computed as a matrix product (im2col, Chellapilla et al. 2006):
//   cols[(n, yo, xo), (kh * K + kw) * C + c] = x[n, yo * S - pad + kh, xo * S - pad + kw, c]   (zero outside)
//   y = cols . W + b        W is (K * K * C) x Cout, so the product is matmul.cl's, with its tuning and epilogues
//   dW = cols^T . dy,  dcols = dy . W^T,  dx = col2im(dcols)   (col2im is im2col's adjoint)
// Layout: NHWC, activations are (N * H * W) x C matrices. Chosen because every other op of a U-Net is then a plain
// row-major matmul with no transposes: a 1x1 convolution is matmul(x, W) on the activations as they lie, the bias,
// residual add and activation ride in the matmul epilogue (one value per column), GroupNorm's FiLM reads one row per
// sample, and the product's M dimension is N * H * W (tens of thousands of rows), the shape the CPU matmul is
// fastest at. NCHW would need a batched product, or the (Cout x K*K*C) . (K*K*C x N*H*W) shape whose wide, short
// output the CPU kernel tiles worse (`bench kernels` times both products for the U-Net's convolutions; the
// measurements: docs/kernel-development.md).
// The layers read the patches in place instead (conv_cpu below for the CPU variant, conv_tiled.cl for the tiled
// one); im2col remains for the CPU variant's weight gradient at channel counts off a multiple of 32, col2im for the
// input gradient of a stride-2 convolution on both.
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

// ---- Implicit products for the CPU variant (matmul.cl's panel kernel with the patches read in place) ----
// im2col writes K * K times the activations and the product reads them back; for a 28x28 U-Net step that traffic
// and col2im's took more time than the products (docs/kernel-development.md). These kernels never form the patches:
//   conv_cpu             y = patches(x) . W, matmul_cpu's MR x 32 blocks with A's rows gathered tap by tap
//   pack_flipped_weight  the transposed convolution's weight, so dx = conv_cpu(dy) for stride 1
//   conv_weight_cpu      dW^T = dy^T . patches(x) for C a multiple of 32, matmul_cpu's blocks with each B panel row
//                        32 adjacent channels of one neighbour read in place, split over the pixels
//   conv_narrow          y = patches(x) . W for at most 4 outputs (a U-Net's last convolution), a pixel per work-item
// Other channel counts form the patches for the weight gradient (im2col, then pack_b), whose writes stream: a
// general packer, lane by lane, was slower (docs/kernel-development.md).

// One MR x 32 block of y per work-item, over B panels packed by pack_b from W (K * K * C x N); rows of y are output
// pixels (n, yo, xo), and row r's k-th value of A is x[n, yo * S - pad + kh, xo * S - pad + kw, c] for
// k = (kh * K + kw) * C + c; a tap outside the image reads C values of `zeros` instead (no branch in the loop).
// Bands as in matmul_cpu (band_block). Range: [ceil(M / MR) * ceil(N / 32)], local [1].
__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void conv_cpu(const int M, const int N, const int band, const int H, const int W, const int C, const int sample_stride,
              const int KS, const int S, const int pad, const int Ho, const int Wo,
              __global const float *x, const int x_off, __global const float *zeros,
              __global const float *panels, const int panels_off, OUTPUT_AND_EPILOGUE_PARAMS) {
    const int K = KS * KS * C;
    const int2 block = band_block(get_global_id(0), M, N, band);
    const int m0 = block.x, panel = block.y, n0 = panel * NR;
    __global const float *bk = panels + panels_off + (size_t)panel * NR * K;

    int y0[MR], x0[MR];
    size_t image[MR];
    #pragma unroll
    for (int r = 0; r < MR; r++) {
        const int row = min(m0 + r, M - 1);
        const int xo = row % Wo, yo = (row / Wo) % Ho, n = row / (Wo * Ho);
        y0[r] = yo * S - pad; x0[r] = xo * S - pad;
        image[r] = x_off + (size_t)n * sample_stride;
    }
    float16 lo[MR], hi[MR];
    #pragma unroll
    for (int r = 0; r < MR; r++) { lo[r] = (float16)(0.0f); hi[r] = (float16)(0.0f); }

    for (int kh = 0; kh < KS; kh++) {
        for (int kw = 0; kw < KS; kw++) {
            __global const float *src[MR];
            #pragma unroll
            for (int r = 0; r < MR; r++) {
                const int yi = y0[r] + kh, xi = x0[r] + kw;
                src[r] = yi >= 0 && yi < H && xi >= 0 && xi < W ? x + image[r] + ((size_t)yi * W + xi) * C : zeros;
            }
            for (int ch = 0; ch < C; ch++) {
                const float16 b0 = vload16(0, bk);
                const float16 b1 = vload16(0, bk + 16);
                #pragma unroll
                for (int r = 0; r < MR; r++) {
                    const float av = src[r][ch];
                    lo[r] = fma((float16)(av), b0, lo[r]);
                    hi[r] = fma((float16)(av), b1, hi[r]);
                }
                bk += NR;
            }
        }
    }
    #pragma unroll
    for (int r = 0; r < MR; r++) {
        if (m0 + r >= M) break;
        store_row(lo[r], hi[r], m0 + r, n0, M, N, 0, EPILOGUE_ARGS);
    }
}

// The weight of the transposed convolution in pack_b's panels: B'[(t, co), ci] = W[(KK - 1 - t) * Cin + ci, co]
// (the kernel flipped, input and output channels swapped), zero beyond Cin. For stride 1 and padding pad,
// dx = conv(dy; B') with padding K - 1 - pad, which is conv_cpu on dy. Range: [KK * Cout, ceil(Cin / 32)].
__kernel void pack_flipped_weight(const int KK, const int Cin, const int Cout, __global const float *w, const int w_off,
                                  __global float *packed, const int packed_off) {
    const int k = get_global_id(0), p = get_global_id(1);
    const int tap = KK - 1 - k / Cout, co = k % Cout;
    __global float *row = packed + packed_off + (size_t)p * NR * KK * Cout + (size_t)k * NR;
    for (int j = 0; j < NR; j++) {
        const int ci = p * NR + j;
        row[j] = ci < Cin ? w[w_off + ((size_t)tap * Cin + ci) * Cout + co] : 0.0f;
    }
}

// The weight gradient with the patches read in place, for C a multiple of 32, as its transpose:
//   dW^T[co, (kh K + kw) C + c] = sum over output pixels k of dy[k, co] x[n, yo S - pad + kh, xo S - pad + kw, c]
// which is matmul_cpu's MR x 32 block with op(A) = dy^T (MR adjacent output channels of one pixel) and the B panel
// row of pixel k the 32 adjacent channels of one neighbour, read where they lie (`zeros` outside the image). The sum
// over K = every output pixel of the batch is split into chunks; a work-item owns one panel (a tap's 32 channels)
// and one chunk, and goes through its chunk WKB pixels at a time, every row block of dW^T per step, so the step's
// neighbour rows and dy rows stay in L1 while all output channels pass over them (the old split gave every row block
// its own chunk and wrote a partial product per chunk and block: the sums of those partials took a quarter of the
// weight gradient's time). Partials go to partial[chunk][co][p]; conv_weight_finish adds them up in chunk order.
// Range: [K * K * C / 32, chunks], local [1, 1].
#define WKB 64
__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void conv_weight_cpu(const int Cout, const int pixels, const int k_chunk, const int H, const int W, const int C,
                     const int sample_stride, const int KS, const int S, const int pad, const int Ho, const int Wo,
                     __global const float *x, const int x_off, __global const float *zeros,
                     __global const float *dy, const int dy_off, __global float *partial) {
    const int panel = get_global_id(0), chunk = get_global_id(1);
    const int P = KS * KS * C;
    const int tap = panel * NR / C, c0 = panel * NR % C;
    const int kh = tap / KS, kw = tap % KS;
    const int k_begin = chunk * k_chunk, k_end = min(pixels, k_begin + k_chunk);
    __global float *out = partial + (size_t)chunk * Cout * P + panel * NR;
    int xo = k_begin % Wo, yo = (k_begin / Wo) % Ho, n = k_begin / (Wo * Ho);
    for (int kb = k_begin; kb < k_end; kb += WKB) {
        const int len = min(WKB, k_end - kb);
        __global const float *src[WKB];
        for (int i = 0; i < len; i++) {
            const int yi = yo * S - pad + kh, xi = xo * S - pad + kw;
            src[i] = yi >= 0 && yi < H && xi >= 0 && xi < W ? x + x_off + (size_t)n * sample_stride + ((size_t)yi * W + xi) * C + c0 : zeros;
            if (++xo == Wo) { xo = 0; if (++yo == Ho) { yo = 0; n++; } }
        }
        __global const float *dyk = dy + dy_off + (size_t)kb * Cout;
        for (int m0 = 0; m0 < Cout; m0 += MR) {
            // Rows past Cout read row Cout - 1 and are never stored.
            int row[MR];
            float16 lo[MR], hi[MR];
            #pragma unroll
            for (int r = 0; r < MR; r++) {
                row[r] = min(m0 + r, Cout - 1);
                lo[r] = kb == k_begin ? (float16)(0.0f) : vload16(0, out + (size_t)row[r] * P);
                hi[r] = kb == k_begin ? (float16)(0.0f) : vload16(0, out + (size_t)row[r] * P + 16);
            }
            for (int i = 0; i < len; i++) {
                const float16 b0 = vload16(0, src[i]);
                const float16 b1 = vload16(0, src[i] + 16);
                #pragma unroll
                for (int r = 0; r < MR; r++) {
                    const float av = dyk[i * Cout + row[r]];
                    lo[r] = fma((float16)(av), b0, lo[r]);
                    hi[r] = fma((float16)(av), b1, hi[r]);
                }
            }
            #pragma unroll
            for (int r = 0; r < MR; r++) {
                if (m0 + r >= Cout) break;
                vstore16(lo[r], 0, out + (size_t)(m0 + r) * P);
                vstore16(hi[r], 0, out + (size_t)(m0 + r) * P + 16);
            }
        }
    }
}

// dW[p, co] += the sum over chunks of conv_weight_cpu's partial[chunk][co][p], in chunk order. Range: [P, Cout].
__kernel void conv_weight_finish(const int P, const int Cout, const int chunks, __global const float *partial,
                                 __global float *dw, const int dw_off) {
    const int p = get_global_id(0), co = get_global_id(1);
    float sum = 0.0f;
    for (int chunk = 0; chunk < chunks; chunk++) sum += partial[((size_t)chunk * Cout + co) * P + p];
    dw[dw_off + (size_t)p * Cout + co] += sum;
}

// y = patches(x) . W for N <= 4 output channels (a U-Net's last convolution, to the image's channels; the host's bound
// is Engine.narrowConvolutionOutputs), where conv_cpu's 32-wide panels would waste all but N of every 32 FMAs (a 32 -> 1
// convolution at 28x28 ran at 3.7 GFLOP/s, about 6 ms of a 340 ms U-Net step; 1.2 ms here). One output pixel per
// work-item: each tap's C channels lie adjacent in x, so they are read VW at a time against W's column, which the
// work-group first copies transposed into local memory (wt[j][k] = W[k, j], a column's values adjacent). Taps outside
// the image are skipped. The sizes are compile-time: NARROW_N outputs, NARROW_K = K * K * C, VW channels a vector
// (vectors.cl; 8 or 4 where C allows, else 1).
// Range: [ceil(M / NARROW_WG) * NARROW_WG], local [NARROW_WG].
#define NARROW_WG 64
#ifndef NARROW_N
#define NARROW_N 1
#endif
#ifndef NARROW_K
#define NARROW_K 1
#endif
__kernel __attribute__((reqd_work_group_size(NARROW_WG, 1, 1)))
void conv_narrow(const int M, const int N, const int H, const int W, const int C, const int sample_stride,
                 const int KS, const int S, const int pad, const int Ho, const int Wo,
                 __global const float *x, const int x_off, __global const float *w, const int w_off,
                 OUTPUT_AND_EPILOGUE_PARAMS) {
    __local float wt[NARROW_N * NARROW_K];
    for (int e = get_local_id(0); e < NARROW_K * NARROW_N; e += NARROW_WG) wt[(e % NARROW_N) * NARROW_K + e / NARROW_N] = w[w_off + e];
    barrier(CLK_LOCAL_MEM_FENCE);
    const int row = get_global_id(0);
    if (row >= M) return;
    const int xo = row % Wo, yo = (row / Wo) % Ho, n = row / (Wo * Ho);
    floatv acc[NARROW_N];
    for (int j = 0; j < NARROW_N; j++) acc[j] = (floatv)(0.0f);
    for (int kh = 0; kh < KS; kh++) {
        const int yi = yo * S - pad + kh;
        if (yi < 0 || yi >= H) continue;
        for (int kw = 0; kw < KS; kw++) {
            const int xi = xo * S - pad + kw;
            if (xi < 0 || xi >= W) continue;
            __global const float *src = x + x_off + (size_t)n * sample_stride + ((size_t)yi * W + xi) * C;
            __local const float *column = wt + (kh * KS + kw) * C;
            for (int c = 0; c < C / VW; c++) {
                const floatv v = LOADV(c, src);
                for (int j = 0; j < NARROW_N; j++) acc[j] = fma(v, LOADV(c, column + j * NARROW_K), acc[j]);
            }
        }
    }
    for (int j = 0; j < NARROW_N; j++) EPILOGUE_SCALAR(lane_sum(acc[j]), row, j);
}
