// conv_tiled.cl: a 2-D convolution on GPUs as an implicit product: matmul_tiled (matmul.cl) with its A slabs
// gathered straight from the NHWC image instead of from an im2col matrix. For output pixel p = (n, yo, xo) and patch
// column q = (kh * KS + kw) * C + c,
//   patches(x)[p, q] = x[n * sample_stride + ((yo * S - pad + kh) * W + xo * S - pad + kw) * C + c]   (0 outside)
// which is im2col's indexing (conv.cl), and one kernel computes, by its compile-time switches,
//   TRANS_A 0             y  = epilogue(patches(x) . W)         the forward: M = samples * Ho * Wo, K = KS * KS * C
//   TRANS_A 0, FLIP_B 1   dx = epilogue(patches(dy) . flip(W))  a stride-1 convolution's input gradient as the
//                                                              transposed convolution (geometry: C is the forward's
//                                                              Cout, N its Cin); flip(W) is conv.cl's
//                                                              pack_flipped_weight read in place
//   TRANS_A 1             dW = epilogue(patches(x)^T . dy)      the weight gradient: M = KS * KS * C, K = pixels
// Why this shape: im2col writes KS * KS copies of the activations for the product to read back, and at a U-Net's
// batch sizes that matrix is the largest buffer of a training step; here each TM x TK slab of patches exists only in
// local memory. The slab loads keep matmul_tiled's order, so consecutive work-items read consecutive channels of one
// tap (coalesced where C is not tiny), and the part of a load's index that stays fixed from slab to slab (a row's
// pixel, or under TRANS_A a column's tap) is decoded once per work-item, not once per slab. The weight gradient's
// product is short and deep (K = pixels), so it runs few work-groups, as matmul_tiled did on the im2col matrix;
// splitting K over more groups (with a fixed-order sum) would be its next step.
// Epilogues (EPI), tunables (TM, TN, TK, WM, WN), work-group shape and range as matmul_tiled's, whose file (with
// activations.cl) the host prepends. CPU twins: Reference.conv2d and the products on Reference.im2col.

#ifndef FLIP_B
#define FLIP_B 0
#endif

// Work-items per group, and the slab loads each makes (the last one's share may be partial).
#define TILE_THREADS ((TM / WM) * (TN / WN))
#define A_SLOTS ((TM * TK + TILE_THREADS - 1) / TILE_THREADS)

// The convolution whose patches are read: image size, channels, values per sample, kernel, stride, padding, output.
typedef struct {
    int H, W, C, sample_stride, KS, S, pad, Ho, Wo;
} ConvShape;

// Where output pixel `pixel`'s patch lies: its image's first value and the input row and column of its first tap.
typedef struct {
    size_t image;
    int y0, x0;
} PatchOrigin;

inline PatchOrigin patch_origin(const ConvShape g, const int pixel) {
    const int xo = pixel % g.Wo, yo = (pixel / g.Wo) % g.Ho, n = pixel / (g.Wo * g.Ho);
    PatchOrigin o;
    o.image = (size_t)n * g.sample_stride;
    o.y0 = yo * g.S - g.pad;
    o.x0 = xo * g.S - g.pad;
    return o;
}

// Patch column `column` as (kh, kw, c).
inline int3 patch_tap(const ConvShape g, const int column) {
    const int tap = column / g.C;
    return (int3)(tap / g.KS, tap % g.KS, column - tap * g.C);
}

// patches(x)[pixel, column] from the pixel's origin and the column's tap: 0 in the padding.
inline float patch_value(__global const float *x, const ConvShape g, const PatchOrigin o, const int3 t) {
    const int yi = o.y0 + t.x, xi = o.x0 + t.y;
    if (yi < 0 || yi >= g.H || xi < 0 || xi >= g.W) return 0.0f;
    return x[o.image + ((size_t)yi * g.W + xi) * g.C + t.z];
}

// One of a work-item's A loads, e = tid + s * TILE_THREADS as in matmul_tiled's loop: its place in the slab and its
// fixed index, row m0 + mm of op(A), decoded (a pixel's origin, or under TRANS_A a tap). Rows past M decode row
// M - 1 (valid memory); their outputs are never stored.
typedef struct {
    int mm, kk;
#if TRANS_A
    int3 tap;
#else
    PatchOrigin origin;
#endif
} ASlot;

inline ASlot a_slot(const ConvShape g, const int e, const int m0, const int M) {
    ASlot s;
#if TRANS_A
    s.kk = e / TM; s.mm = e % TM;
    s.tap = patch_tap(g, min(m0 + s.mm, M - 1));
#else
    s.mm = e / TK; s.kk = e % TK;
    s.origin = patch_origin(g, min(m0 + s.mm, M - 1));
#endif
    return s;
}

// op(A)[m0 + s.mm, k0 + s.kk], 0 past K.
inline float a_value(__global const float *x, const ConvShape g, const ASlot s, const int k0, const int K) {
    const int k = k0 + s.kk;
    if (k >= K) return 0.0f;
#if TRANS_A
    return patch_value(x, g, patch_origin(g, k), s.tap);
#else
    return patch_value(x, g, s.origin, patch_tap(g, k));
#endif
}

// B[k, n]: the K x N matrix `b` as it lies, or with FLIP_B the transposed convolution's weight
// W[(KS * KS - 1 - tap) * N + n, c] for k = tap * C + c, W being the forward's (KS * KS * N) x C weight.
inline float b_value(__global const float *b, const ConvShape g, const int k, const int n, const int N) {
#if FLIP_B
    const int tap = k / g.C;
    return b[((size_t)(g.KS * g.KS - 1 - tap) * N + n) * g.C + k - tap * g.C];
#else
    return b[(size_t)k * N + n];
#endif
}

// TM x TN tile of C per work-group of (TN / WN) x (TM / WM) work-items, WM x WN outputs each.
// Range: [ceil(N / TN) * TN / WN, ceil(M / TM) * TM / WM], local [TN / WN, TM / WM].
__kernel __attribute__((reqd_work_group_size(TN / WN, TM / WM, 1)))
void conv_tiled(const int M, const int N, const int K, const int H, const int W, const int C, const int sample_stride,
                const int KS, const int S, const int pad, const int Ho, const int Wo,
                __global const float *x, const int x_off, __global const float *b, const int b_off,
                OUTPUT_AND_EPILOGUE_PARAMS) {
    __local float As[TK][TM + 1];
    __local float Bs[TK][TN + 1];
    const ConvShape g = { H, W, C, sample_stride, KS, S, pad, Ho, Wo };
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * (TN / WN) + tx;
    const int m0 = get_group_id(1) * TM, n0 = get_group_id(0) * TN;
    __global const float *image = x + x_off;
    __global const float *weight = b + b_off;

    ASlot slots[A_SLOTS];
    #pragma unroll
    for (int s = 0; s < A_SLOTS; s++) slots[s] = a_slot(g, min(tid + s * TILE_THREADS, TM * TK - 1), m0, M);

    float acc[WM][WN];
    for (int i = 0; i < WM; i++) for (int j = 0; j < WN; j++) acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < K; k0 += TK) {
        #pragma unroll
        for (int s = 0; s < A_SLOTS; s++) {
            if (tid + s * TILE_THREADS < TM * TK) As[slots[s].kk][slots[s].mm] = a_value(image, g, slots[s], k0, K);
        }
        for (int e = tid; e < TN * TK; e += TILE_THREADS) {
            // The flipped weight's k runs along one tap's channels, adjacent in W, so k varies fastest there.
#if FLIP_B
            const int nn = e / TK, kk = e % TK;
#else
            const int kk = e / TN, nn = e % TN;
#endif
            const int n = n0 + nn, k = k0 + kk;
            Bs[kk][nn] = (n < N && k < K) ? b_value(weight, g, k, n, N) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        TILE_PRODUCTS(As, Bs, acc, tx, ty);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    TILE_STORE(acc, m0, n0, tx, ty);
}
