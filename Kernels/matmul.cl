// matmul.cl: C[M,N] = epilogue(op(A)[M,K] . op(B)[K,N]) for any M, N, K, in two variants.
//
//   matmul_cpu    one work-item per work-group computing an MR x 32 block held in float16 accumulators, over
//                 32-column panels of B that pack_b lays out zero-padded and contiguous (the kernel takes a
//                 panel and row stride, so B could be read in place, but rows 1 or 4 KB apart alias in L1 and
//                 the packed panel of a K = 256 product fits it whole). POCL then compiles the body like plain
//                 C, without a loop over work-items or splits at barriers (bench kernels: this shape reaches
//                 OpenBLAS speed on AVX-512, local-memory kernels with barriers stay far below).
//   matmul_narrow the CPU variant's path for A^T . B at most 4 wide: 16 rows per work-item, nothing packed.
//   matmul_tiled  the GPU variant: TM x TN tiles of C per work-group, TK-deep slabs of A and B staged through
//                 local memory with coalesced loads, WM x WN outputs per work-item in registers.
//
// Compile-time switches (the host passes -D):
//   TRANS_A  0: A is M x K row-major;  1: A is K x M (op(A) = A^T)
//   TRANS_B  0: B is K x N;            1: B is N x K (op(B) = B^T)      (matmul_cpu: pack_b absorbs it)
//   EPI      0: C = acc
//            1: Z = acc + bias[n]; C = act(Z); Z stored to `pre` when store_pre != 0
//            2: C = acc * act'(gate[m, n])  (backward through an activation)
//            3: C = acc + bias[n] + gate[m, n]  (a residual add fused into a linear layer)
//            4: C = acc + gate[m, n]  (accumulation: the host passes C itself as `gate`, so C += op(A).op(B))
// The activation `act` is a run-time argument (activations.cl, which the host prepends to this file).
//   PACK_A   matmul_cpu only: 1 reads op(A) packed by pack_b into 32-row panels (the MR values of a k step
//            adjacent) instead of in place; the host packs a transposed A, whose in-place rows lie M floats
//            apart at every k step.
//   SPLITK   matmul_cpu only: 1 splits K over the third range dimension in chunks of k_chunk and stores
//            raw partial products at c + c_off + chunk * M * N; splitk_finish sums them in order (so the
//            result is deterministic) and applies the epilogue. Long products (the weight gradient, K = batch)
//            then keep a chunk of their B panel in cache across consecutive work-items.
// Tunables: MR (rows per work-item, matmul_cpu); TM, TN, TK, WM, WN (matmul_tiled).

#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
#ifndef EPI
#define EPI 0
#endif
#ifndef MR
#define MR 8
#endif
#ifndef SPLITK
#define SPLITK 0
#endif
#ifndef PACK_A
#define PACK_A 0
#endif
#ifndef TM
#define TM 64
#endif
#ifndef TN
#define TN 64
#endif
#ifndef TK
#define TK 16
#endif
#ifndef WM
#define WM 4
#endif
#ifndef WN
#define WN 4
#endif

#define NR 32

#if TRANS_A
#define A_AT(m, k) a[a_off + (k) * M + (m)]
#else
#define A_AT(m, k) a[a_off + (m) * K + (k)]
#endif
#if TRANS_B
#define B_AT(k, n) b[b_off + (n) * K + (k)]
#else
#define B_AT(k, n) b[b_off + (k) * N + (n)]
#endif

// The output and epilogue operands every matmul kernel takes, in the order the host passes them (Matmul.swift);
// EPILOGUE_SCALAR and the vector epilogues read them by these names.
#define OUTPUT_AND_EPILOGUE_PARAMS                                                     \
    __global float *c, const int c_off,                                                \
    __global const float *bias, const int bias_off,                                    \
    __global float *pre, const int pre_off, const int store_pre,                       \
    __global const float *gate, const int gate_off, const int act

// Epilogue for one scalar output.
#define EPILOGUE_SCALAR(acc, m, n) do {                                              \
    const int ci_ = c_off + (m) * N + (n);                                            \
    if (EPI == 1) {                                                                  \
        const float z_ = (acc) + bias[bias_off + (n)];                                \
        if (store_pre) pre[pre_off + (m) * N + (n)] = z_;                             \
        c[ci_] = act_forward(z_, act);                                                          \
    } else if (EPI == 2) {                                                           \
        c[ci_] = (acc) * act_derivative(gate[gate_off + (m) * N + (n)], act);                      \
    } else if (EPI == 3) {                                                           \
        c[ci_] = (acc) + bias[bias_off + (n)] + gate[gate_off + (m) * N + (n)];      \
    } else if (EPI == 4) {                                                           \
        c[ci_] = (acc) + gate[gate_off + (m) * N + (n)];                             \
    } else {                                                                         \
        c[ci_] = (acc);                                                              \
    }                                                                                \
} while (0)

// packed[p][k][j] = op(B)[k, 32p + j], zero beyond N: one 32-wide row of a panel per work-item. k varies
// fastest, so consecutive work-items write consecutive 128-byte rows and, when B is transposed, read from the
// 32 cache lines the previous work-items brought in. Range: [K, panels].
__kernel void pack_b(const int K, const int N, __global const float *b, const int b_off,
                     __global float *packed, const int packed_off) {
    const int k = get_global_id(0);
    const int n0 = get_global_id(1) * NR;
    __global float *row = packed + packed_off + (size_t)n0 * K + (size_t)k * NR;
#if !TRANS_B
    if (n0 + NR <= N) {
        __global const float *src = b + b_off + (size_t)k * N + n0;
        vstore16(vload16(0, src), 0, row);
        vstore16(vload16(0, src + 16), 0, row + 16);
        return;
    }
#endif
    for (int j = 0; j < NR; j++) row[j] = n0 + j < N ? B_AT(k, n0 + j) : 0.0f;
}

// Stores row m, columns n0 ..< n0 + 32 of C (those below N) through the epilogue, or the raw partial product of
// K chunk `chunk` with SPLITK: the end of every panel kernel (matmul_cpu here, conv_cpu in conv.cl).
inline void store_row(const float16 lo, const float16 hi, const int m, const int n0, const int M, const int N, const int chunk,
                      OUTPUT_AND_EPILOGUE_PARAMS) {
    if (n0 + NR <= N) {
#if SPLITK
        const int ci = c_off + chunk * M * N + m * N + n0;
        vstore16(lo, 0, c + ci);
        vstore16(hi, 0, c + ci + 16);
#elif EPI == 1
        const int ci = c_off + m * N + n0;
        const float16 z0 = lo + vload16(0, bias + bias_off + n0);
        const float16 z1 = hi + vload16(0, bias + bias_off + n0 + 16);
        if (store_pre) { vstore16(z0, 0, pre + pre_off + m * N + n0); vstore16(z1, 0, pre + pre_off + m * N + n0 + 16); }
        vstore16(act_forward16(z0, act), 0, c + ci);
        vstore16(act_forward16(z1, act), 0, c + ci + 16);
#elif EPI == 2
        const int ci = c_off + m * N + n0;
        const float16 g0 = vload16(0, gate + gate_off + m * N + n0);
        const float16 g1 = vload16(0, gate + gate_off + m * N + n0 + 16);
        vstore16(lo * act_derivative16(g0, act), 0, c + ci);
        vstore16(hi * act_derivative16(g1, act), 0, c + ci + 16);
#elif EPI == 3 || EPI == 4
        const int ci = c_off + m * N + n0;
        float16 s0 = lo + vload16(0, gate + gate_off + m * N + n0);
        float16 s1 = hi + vload16(0, gate + gate_off + m * N + n0 + 16);
        if (EPI == 3) { s0 += vload16(0, bias + bias_off + n0); s1 += vload16(0, bias + bias_off + n0 + 16); }
        vstore16(s0, 0, c + ci);
        vstore16(s1, 0, c + ci + 16);
#else
        const int ci = c_off + m * N + n0;
        vstore16(lo, 0, c + ci);
        vstore16(hi, 0, c + ci + 16);
#endif
    } else {
        float tmp[NR];
        vstore16(lo, 0, tmp);
        vstore16(hi, 0, tmp + 16);
#if SPLITK
        for (int j = 0; j < NR && n0 + j < N; j++) c[c_off + chunk * M * N + m * N + n0 + j] = tmp[j];
#else
        for (int j = 0; j < NR && n0 + j < N; j++) EPILOGUE_SCALAR(tmp[j], m, n0 + j);
#endif
    }
}

// The arguments store_row passes on.
#define EPILOGUE_ARGS c, c_off, bias, bias_off, pre, pre_off, store_pre, gate, gate_off, act

// Work-item `id`'s block of a panel kernel (matmul_cpu, conv_cpu): (first row, panel). Work-items go through C in
// bands of `band` row blocks, panel by panel within a band: a band's rows of A stay in cache while every panel
// passes over them, so A is fetched from memory once and each B panel once per band (row blocks first would fetch
// A once per panel; panels first, B once per row block).
inline int2 band_block(const int id, const int M, const int N, const int band) {
    const int panel_count = (N + NR - 1) / NR, row_blocks = (M + MR - 1) / MR;
    const int band_first = id / (band * panel_count) * band;
    const int in_band = id - band_first * panel_count;
    const int band_blocks = min(band, row_blocks - band_first);
    return (int2)((band_first + in_band % band_blocks) * MR, in_band / band_blocks);
}

// One MR x 32 block of C per work-item, in bands (band_block). Range: [ceil(M / MR) * ceil(N / 32), 1, K chunks],
// local [1, 1, 1].
__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void matmul_cpu(const int M, const int N, const int K, const int k_chunk, const int band,
                __global const float *a, const int a_off,
                __global const float *panels, const int panels_off, const int panel_stride, const int row_stride,
                OUTPUT_AND_EPILOGUE_PARAMS) {
    const int2 block = band_block(get_global_id(0), M, N, band);
    const int m0 = block.x, panel = block.y, n0 = panel * NR;
    __global const float *bp = panels + panels_off + (size_t)panel * panel_stride;

    // Rows past M read row M - 1 (valid memory) and are never stored. A is walked through one base pointer
    // that advances by one k per step, plus an offset per row, so the loop body is pure loads and FMAs. With
    // PACK_A, `a` holds op(A) as pack_b lays out B (rows of op(A) in 32-wide panels, a panel's 32 values of
    // one k adjacent); a block of MR rows may straddle two panels, which the per-row offsets absorb.
#if PACK_A
    const size_t a_step = NR;
#elif TRANS_A
    const size_t a_step = M;
#else
    const size_t a_step = 1;
#endif
    size_t a_row[MR];
    #pragma unroll
    for (int r = 0; r < MR; r++) {
        const size_t row = min(m0 + r, M - 1);
        a_row[r] = PACK_A ? (row / NR) * (size_t)K * NR + row % NR : TRANS_A ? row : row * (size_t)K;
    }
    const int k_begin = get_global_id(2) * k_chunk;
    const int k_end = min(K, k_begin + k_chunk);
    __global const float *ak = a + a_off + k_begin * a_step;
    __global const float *bk = bp + (size_t)k_begin * row_stride;

    float16 lo[MR], hi[MR];
    #pragma unroll
    for (int r = 0; r < MR; r++) { lo[r] = (float16)(0.0f); hi[r] = (float16)(0.0f); }

    for (int k = k_begin; k < k_end; k++) {
        const float16 b0 = vload16(0, bk);
        const float16 b1 = vload16(0, bk + 16);
        #pragma unroll
        for (int r = 0; r < MR; r++) {
            const float av = ak[a_row[r]];
            lo[r] = fma((float16)(av), b0, lo[r]);
            hi[r] = fma((float16)(av), b1, hi[r]);
        }
        ak += a_step;
        bk += row_stride;
    }

    #pragma unroll
    for (int r = 0; r < MR; r++) {
        if (m0 + r >= M) break;
        store_row(lo[r], hi[r], m0 + r, n0, M, N, get_global_id(2), EPILOGUE_ARGS);
    }
}

// C = epilogue(A^T . op(B)) for outputs at most NARROW wide (the weight gradient of a network's last layer on
// 2-D data): 16 rows of C per work-item as float16 accumulators, one per column, over the whole of K, with
// op(B)[k, n] broadcast. op(A)'s 16 values of one k are adjacent in the K x M matrix `a`, so nothing is
// packed, where the panel path would pack both operands and waste 30 of every 32 FMAs at N = 2. (Untransposed
// A would need 16 loads K floats apart per k: slower than the panel path, which therefore keeps that case.)
// Range: [ceil(M / 16)].
#define NARROW 4
__kernel void matmul_narrow(const int M, const int N, const int K,
                            __global const float *a, const int a_off,
                            __global const float *b, const int b_off,
                            OUTPUT_AND_EPILOGUE_PARAMS) {
    const int m0 = get_global_id(0) * 16;
    float16 acc[NARROW];
    #pragma unroll
    for (int n = 0; n < NARROW; n++) acc[n] = (float16)(0.0f);
    for (int k = 0; k < K; k++) {
        float16 column;
        if (m0 + 16 <= M) column = vload16(0, a + a_off + (size_t)k * M + m0);
        else {
            // Rows past M read row M - 1 and are never stored.
            float values[16];
            for (int r = 0; r < 16; r++) values[r] = a[a_off + (size_t)k * M + min(m0 + r, M - 1)];
            column = vload16(0, values);
        }
        #pragma unroll
        for (int n = 0; n < NARROW; n++) if (n < N) acc[n] = fma(column, (float16)(B_AT(k, n)), acc[n]);
    }
    for (int n = 0; n < N; n++) {
        float values[16];
        vstore16(acc[n], 0, values);
        for (int r = 0; r < 16 && m0 + r < M; r++) EPILOGUE_SCALAR(values[r], m0 + r, n);
    }
}

// C = epilogue(sum over chunks of partial[chunk]), chunks in order. Range: [N, M].
__kernel void splitk_finish(const int M, const int N, const int chunks,
                            __global const float *partial, const int partial_off,
                            OUTPUT_AND_EPILOGUE_PARAMS) {
    const int n = get_global_id(0), m = get_global_id(1);
    float acc = 0.0f;
    for (int s = 0; s < chunks; s++) acc += partial[partial_off + (size_t)s * M * N + m * N + n];
    EPILOGUE_SCALAR(acc, m, n);
}

// The tiled kernels' common steps (matmul_tiled here, conv_tiled in conv_tiled.cl), for work-item (tx, ty) of a
// TM x TN tile: the register tile's products over one TK-deep slab staged in local memory (As[k][m], Bs[k][n]), and
// the store of its WM x WN outputs (rows TM / WM apart, columns TN / WN apart) through the epilogue.
#define TILE_PRODUCTS(As, Bs, acc, tx, ty) do {                                                   \
    for (int kk_ = 0; kk_ < TK; kk_++) {                                                          \
        float ar_[WM], br_[WN];                                                                   \
        for (int i_ = 0; i_ < WM; i_++) ar_[i_] = As[kk_][(ty) + i_ * (TM / WM)];                 \
        for (int j_ = 0; j_ < WN; j_++) br_[j_] = Bs[kk_][(tx) + j_ * (TN / WN)];                 \
        for (int i_ = 0; i_ < WM; i_++)                                                           \
            for (int j_ = 0; j_ < WN; j_++) acc[i_][j_] = fma(ar_[i_], br_[j_], acc[i_][j_]);     \
    }                                                                                             \
} while (0)
#define TILE_STORE(acc, m0, n0, tx, ty) do {                                                      \
    for (int i_ = 0; i_ < WM; i_++) {                                                             \
        const int m_ = (m0) + (ty) + i_ * (TM / WM);                                              \
        if (m_ >= M) continue;                                                                    \
        for (int j_ = 0; j_ < WN; j_++) {                                                         \
            const int n_ = (n0) + (tx) + j_ * (TN / WN);                                          \
            if (n_ < N) EPILOGUE_SCALAR(acc[i_][j_], m_, n_);                                     \
        }                                                                                         \
    }                                                                                             \
} while (0)

// TM x TN tile of C per work-group of (TN / WN) x (TM / WM) work-items; out-of-range loads read 0.
// Range: [ceil(N / TN) * TN / WN, ceil(M / TM) * TM / WM], local [TN / WN, TM / WM].
__kernel __attribute__((reqd_work_group_size(TN / WN, TM / WM, 1)))
void matmul_tiled(const int M, const int N, const int K,
                  __global const float *a, const int a_off,
                  __global const float *b, const int b_off,
                  OUTPUT_AND_EPILOGUE_PARAMS) {
    __local float As[TK][TM + 1];
    __local float Bs[TK][TN + 1];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int threads = (TM / WM) * (TN / WN);
    const int tid = ty * (TN / WN) + tx;
    const int m0 = get_group_id(1) * TM, n0 = get_group_id(0) * TN;

    float acc[WM][WN];
    for (int i = 0; i < WM; i++) for (int j = 0; j < WN; j++) acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < K; k0 += TK) {
        // Consecutive work-items read consecutive addresses in either layout.
        for (int e = tid; e < TM * TK; e += threads) {
#if TRANS_A
            const int kk = e / TM, mm = e % TM;
#else
            const int mm = e / TK, kk = e % TK;
#endif
            const int m = m0 + mm, k = k0 + kk;
            As[kk][mm] = (m < M && k < K) ? A_AT(m, k) : 0.0f;
        }
        for (int e = tid; e < TN * TK; e += threads) {
#if TRANS_B
            const int nn = e / TK, kk = e % TK;
#else
            const int kk = e / TN, nn = e % TN;
#endif
            const int n = n0 + nn, k = k0 + kk;
            Bs[kk][nn] = (n < N && k < K) ? B_AT(k, n) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        TILE_PRODUCTS(As, Bs, acc, tx, ty);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    TILE_STORE(acc, m0, n0, tx, ty);
}
