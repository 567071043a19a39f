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
