// channels.cl: a U-Net's skip concatenation and nearest-neighbour upsampling in one copy, and its adjoint.
// Activations are NHWC, (N * H * W) x C matrices (see conv.cl). `channels_place` writes a source of Cs channels at
// H/U x W/U pixels into channels [c0, c0 + Cs) of a destination of Cd channels at H x W, each source pixel filling a
// U x U block (U = 1: plain concatenation; U = 2: nearest 2x upsampling, as torch's interpolate(mode="nearest")).
// CPU twins: Reference.placeChannels / gatherChannels (ChannelOps.swift).

// Range: [Cs, N * H * W] (destination pixels).
__kernel void channels_place(const int H, const int W, const int U, const int Cs, const int Cd, const int c0,
                             __global const float *src, const int src_off, __global float *dst, const int dst_off) {
    const int j = get_global_id(0), r = get_global_id(1);
    const int x = r % W, y = (r / W) % H, n = r / (W * H);
    const int Hs = H / U, Ws = W / U;
    const size_t s = ((size_t)(n * Hs + y / U) * Ws + x / U) * Cs + j;
    dst[dst_off + (size_t)r * Cd + c0 + j] = src[src_off + s];
}

// The adjoint: each source pixel sums its U x U block of the destination's slice, written or added to (`accumulate`).
// Range: [Cs, N * (H / U) * (W / U)] (source pixels).
__kernel void channels_gather(const int H, const int W, const int U, const int Cs, const int Cd, const int c0,
                              const int accumulate, __global const float *ddst, const int ddst_off,
                              __global float *dsrc, const int dsrc_off) {
    const int j = get_global_id(0), r = get_global_id(1);
    const int Hs = H / U, Ws = W / U;
    const int xs = r % Ws, ys = (r / Ws) % Hs, n = r / (Ws * Hs);
    float sum = 0.0f;
    for (int a = 0; a < U; a++)
        for (int b = 0; b < U; b++)
            sum += ddst[ddst_off + ((size_t)(n * H + ys * U + a) * W + xs * U + b) * Cd + c0 + j];
    __global float *out = dsrc + dsrc_off + (size_t)r * Cs + j;
    *out = accumulate ? *out + sum : sum;
}

// Patches of images (a DiT's tokens): an image of H x W pixels of C channels (HWC, sample n's at n * S, S >= H W C)
// cut into (H / P) x (W / P) patches of P x P pixels, token k = ti (W / P) + tj a row of P P C values ordered
// (a, b, c) for pixel (ti P + a, tj P + b). `patches_split` writes the token rows ((N T) x P P C); `patches_join` is
// its inverse (and adjoint), writing or adding (`accumulate`) the pixels. CPU twin: Reference.patches (PatchOps.swift).
// Range: [P P C, N T].
__kernel void patches_split(const int H, const int W, const int C, const int P, const int S,
                            __global const float *image, const int image_off, __global float *tokens, const int tokens_off) {
    const int q = get_global_id(0), r = get_global_id(1);
    const int T = (H / P) * (W / P), n = r / T, k = r % T;
    const int y = (k / (W / P)) * P + q / (P * C), x = (k % (W / P)) * P + (q / C) % P, c = q % C;
    tokens[tokens_off + (size_t)r * P * P * C + q] = image[image_off + (size_t)n * S + ((size_t)y * W + x) * C + c];
}

// Range: [P P C, N T].
__kernel void patches_join(const int H, const int W, const int C, const int P, const int S, const int accumulate,
                           __global const float *tokens, const int tokens_off, __global float *image, const int image_off) {
    const int q = get_global_id(0), r = get_global_id(1);
    const int T = (H / P) * (W / P), n = r / T, k = r % T;
    const int y = (k / (W / P)) * P + q / (P * C), x = (k % (W / P)) * P + (q / C) % P, c = q % C;
    __global float *out = image + image_off + (size_t)n * S + ((size_t)y * W + x) * C + c;
    const float v = tokens[tokens_off + (size_t)r * P * P * C + q];
    *out = accumulate ? *out + v : v;
}
