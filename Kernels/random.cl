// random.cl: counter-based random numbers: Philox-4x32-10 words, and uniform, normal and lognormal floats.
// Philox is from Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3" (SC 2011).
// Every value is a pure function of (key, counter), so draws need no state on the device and any element
// can be recomputed on the host (StepLabEngine's Reference.philox4x32_10 gives the same words bit for bit).
//
// One work-item computes one Philox block (4 words) and writes up to 4 consecutive elements; the host
// launches ceil(n / 4) work-items. Block b uses the counter (c0 + b, c1, c2, c3) with c0 wrapping mod 2^32.
// RandomKey (Swift) sets c0 = 0, (c1, c2) = its 64-bit counter, c3 = its stream, and the key to its seed.

// Multipliers and Weyl key increments of Philox-4x32 (Salmon et al. 2011, Table 2 / Random123).
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

// 2^-24: converts an odd 24-bit integer to a float in (0, 1) exactly.
#define TWO_POW_MINUS_24 5.9604644775390625e-8f
#define TWO_PI 6.28318530717958647692f

// Ten rounds, the Random123 default: the paper found 7 rounds pass BigCrush and recommends 10 as a margin.
inline uint4 philox4x32_10(uint4 c, uint2 k) {
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k.x += PHILOX_W0;
            k.y += PHILOX_W1;
        }
        const uint hi0 = mul_hi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
        const uint hi1 = mul_hi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

inline uint4 philox_block(const uint c0, const uint c1, const uint c2, const uint c3,
                          const uint k0, const uint k1) {
    return philox4x32_10((uint4)(c0 + (uint)get_global_id(0), c1, c2, c3), (uint2)(k0, k1));
}

// (2k + 1) / 2^24 for the top 23 bits k: odd multiples of 2^-24, so never 0 or 1 (log is always finite),
// symmetric about 1/2, and every value is exact in float, so host and device agree bit for bit.
inline float unit_open(const uint w) {
    return (float)(((w >> 9) << 1) | 1u) * TWO_POW_MINUS_24;
}

// Box-Muller (Box & Muller 1958): two independent N(0, 1) from two uniforms in (0, 1).
inline float2 box_muller(const uint w0, const uint w1) {
    const float r = sqrt(-2.0f * log(unit_open(w0)));
    const float theta = TWO_PI * unit_open(w1);
    return (float2)(r * cos(theta), r * sin(theta));
}

inline float4 normal_block(const uint4 w) {
    const float2 a = box_muller(w.x, w.y), b = box_muller(w.z, w.w);
    return (float4)(a.x, a.y, b.x, b.y);
}

// Element i of a normal_f32 draw of key (c, k): lane i % 4 of block c0 + i / 4, as `normal_f32` writes it.
inline float normal_element(const int i, const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1) {
    const float4 n = normal_block(philox4x32_10((uint4)(c0 + (uint)(i / 4), c1, c2, c3), (uint2)(k0, k1)));
    const int lane = i % 4;
    return lane == 0 ? n.x : lane == 1 ? n.y : lane == 2 ? n.z : n.w;
}

// Writes the first min(4, n - 4b) lanes of v to y[y_off + 4b ...]; a view need not be a multiple of 4.
inline void store4(__global float *y, const int y_off, const int n, const float4 v) {
    const int i = 4 * (int)get_global_id(0);
    y[y_off + i] = v.x;
    if (i + 1 < n) y[y_off + i + 1] = v.y;
    if (i + 2 < n) y[y_off + i + 2] = v.z;
    if (i + 3 < n) y[y_off + i + 3] = v.w;
}

// The raw Philox words: word i is lane i % 4 of block i / 4.
__kernel void philox_u32(__global uint *y, const int y_off, const int n,
                         const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1) {
    const uint4 w = philox_block(c0, c1, c2, c3, k0, k1);
    const int i = 4 * (int)get_global_id(0);
    y[y_off + i] = w.x;
    if (i + 1 < n) y[y_off + i + 1] = w.y;
    if (i + 2 < n) y[y_off + i + 2] = w.z;
    if (i + 3 < n) y[y_off + i + 3] = w.w;
}

// y = lo + (hi - lo) * u, u uniform in (0, 1).
__kernel void uniform_f32(__global float *y, const int y_off, const int n,
                          const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1,
                          const float lo, const float hi) {
    const uint4 w = philox_block(c0, c1, c2, c3, k0, k1);
    const float width = hi - lo;
    store4(y, y_off, n, (float4)(fma(width, unit_open(w.x), lo), fma(width, unit_open(w.y), lo),
                                 fma(width, unit_open(w.z), lo), fma(width, unit_open(w.w), lo)));
}

// y = mean + std * N(0, 1).
__kernel void normal_f32(__global float *y, const int y_off, const int n,
                         const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1,
                         const float mean, const float std) {
    const float4 z = normal_block(philox_block(c0, c1, c2, c3, k0, k1));
    store4(y, y_off, n, (float4)(fma(std, z.x, mean), fma(std, z.y, mean), fma(std, z.z, mean), fma(std, z.w, mean)));
}

// y = exp(mean + std * N(0, 1)), e.g. EDM's ln(sigma) ~ N(P_mean, P_std^2) (Karras et al. 2022).
__kernel void lognormal_f32(__global float *y, const int y_off, const int n,
                            const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1,
                            const float mean, const float std) {
    const float4 z = normal_block(philox_block(c0, c1, c2, c3, k0, k1));
    store4(y, y_off, n, (float4)(exp(fma(std, z.x, mean)), exp(fma(std, z.y, mean)),
                                 exp(fma(std, z.z, mean)), exp(fma(std, z.w, mean))));
}
