// datasets.cl: the built-in 2-D toy data sets (StepLabData's ToyDataset), sampled on the device.
// Prepend random.cl (Philox-4x32-10, unit_open, box_muller). One work-item per point: point i uses only the
// Philox block at counter (c0 + i, c1, c2, c3), i.e. words 4i .. 4i+3 of a draw with the same RandomKey, so it is
// a pure function of the key and i, whatever the number of points drawn. ToyDataset.sampleOnHost recomputes the
// same points operation by operation; the constructions and their sources are documented there.
//
// Discrete choices (mode, moon, arm, row) come from integer bits, never from comparing rounded floats, so host
// and device always take the same branch; the continuous parts then agree to the few ulp by which OpenCL's
// sin, cos, log and sqrt may differ from the host's.
//
// Arguments: y is an n x 2 row-major view, launched over exactly n work-items.

#define PI_F 3.14159265358979323846f
#define THREE_HALVES_PI_F 4.71238898038468985769f
#define THREE_PI_F 9.42477796076937971538f
#define ONE_THIRD_F 0.333333333333333333333f
#define SQRT_2_F 1.41421356237309504880f

// Eight Gaussians: centres on the radius-2 circle at angles k pi / 4, std 0.1 (the reference training workload's data, bench/TrainStepBench.swift).
__constant float2 EIGHT_CENTRES[8] = {
    (float2)(2.0f, 0.0f), (float2)(SQRT_2_F, SQRT_2_F), (float2)(0.0f, 2.0f), (float2)(-SQRT_2_F, SQRT_2_F),
    (float2)(-2.0f, 0.0f), (float2)(-SQRT_2_F, -SQRT_2_F), (float2)(0.0f, -2.0f), (float2)(SQRT_2_F, -SQRT_2_F),
};
#define EIGHT_STD 0.1f

// Two moons: sklearn's make_moons with noise 0.05, centred on (0.5, 0.25) and scaled by 1.5.
#define MOONS_NOISE 0.05f
#define MOONS_SCALE 1.5f

// Two spirals: sqrt-spaced angle up to 3 pi (540 degrees), radius = angle / 3, noise 0.1.
#define SPIRALS_NOISE 0.1f

// Swiss roll: sklearn's make_swiss_roll with noise 1, the (x, z) coordinates, divided by 5.
#define SWISS_SCALE 0.2f

// (2k + 1) / 2^23 for the top 22 bits k: like unit_open, on a grid coarse enough that adding an integer in
// [-2, 1] stays exact, so checkerboard points never round onto a square's edge.
inline float unit_open22(const uint w) {
    return (float)(((w >> 10) << 1) | 1u) * 1.1920928955078125e-7f;
}

inline void store_point(__global float *y, const int y_off, const float2 p) {
    const int i = (int)get_global_id(0);
    y[y_off + 2 * i] = p.x;
    y[y_off + 2 * i + 1] = p.y;
}

// Words: (x, y) noise from box_muller(w.x, w.y); mode from the top 3 bits of w.z.
__kernel void eight_gaussians(__global float *y, const int y_off,
                              const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1) {
    const uint4 w = philox_block(c0, c1, c2, c3, k0, k1);
    const float2 z = box_muller(w.x, w.y);
    const float2 centre = EIGHT_CENTRES[w.z >> 29];
    store_point(y, y_off, (float2)(fma(EIGHT_STD, z.x, centre.x), fma(EIGHT_STD, z.y, centre.y)));
}

// Words: noise from box_muller(w.x, w.y); t = pi u(w.z); the top bit of w.w picks the inner moon.
__kernel void two_moons(__global float *y, const int y_off,
                        const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1) {
    const uint4 w = philox_block(c0, c1, c2, c3, k0, k1);
    const float2 z = box_muller(w.x, w.y);
    const float t = PI_F * unit_open(w.z);
    const float c = cos(t), s = sin(t);
    const float2 moon = (w.w >> 31) ? (float2)(1.0f - c, 0.5f - s) : (float2)(c, s);
    const float px = fma(MOONS_NOISE, z.x, moon.x), py = fma(MOONS_NOISE, z.y, moon.y);
    store_point(y, y_off, (float2)(MOONS_SCALE * (px - 0.5f), MOONS_SCALE * (py - 0.25f)));
}

// FFJORD's checkerboard on [-2, 2]^2: x1 ~ U(-2, 2); x2 = U(0, 1) - 2B + (floor(x1) mod 2), B ~ Bernoulli(1/2).
// Words: x1 from w.x, the offset in the row from w.y, B from the top bit of w.z.
__kernel void checkerboard(__global float *y, const int y_off,
                           const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1) {
    const uint4 w = philox_block(c0, c1, c2, c3, k0, k1);
    const float x1 = fma(4.0f, unit_open22(w.x), -2.0f);
    const int column = (int)floor(x1);
    const int row = (column & 1) - 2 * (int)(w.z >> 31);
    store_point(y, y_off, (float2)(x1, (float)row + unit_open22(w.y)));
}

// Words: noise from box_muller(w.x, w.y); t = 1.5 pi (1 + 2 u(w.z)).
__kernel void swiss_roll(__global float *y, const int y_off,
                         const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1) {
    const uint4 w = philox_block(c0, c1, c2, c3, k0, k1);
    const float2 z = box_muller(w.x, w.y);
    const float t = THREE_HALVES_PI_F * fma(2.0f, unit_open(w.z), 1.0f);
    store_point(y, y_off, (float2)(SWISS_SCALE * fma(t, cos(t), z.x), SWISS_SCALE * fma(t, sin(t), z.y)));
}

// Words: noise from box_muller(w.x, w.y); angle s = 3 pi sqrt(u(w.z)); the top bit of w.w picks the second
// arm, the first rotated by pi.
__kernel void spirals(__global float *y, const int y_off,
                      const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1) {
    const uint4 w = philox_block(c0, c1, c2, c3, k0, k1);
    const float2 z = box_muller(w.x, w.y);
    const float s = THREE_PI_F * sqrt(unit_open(w.z));
    const float r = (w.w >> 31) ? -(s * ONE_THIRD_F) : s * ONE_THIRD_F;
    store_point(y, y_off, (float2)(fma(SPIRALS_NOISE, z.x, -r * cos(s)), fma(SPIRALS_NOISE, z.y, r * sin(s))));
}
