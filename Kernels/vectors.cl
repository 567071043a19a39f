// vectors.cl: a kernel's channels VW at a time (the host passes -D VW=8 or 4 where the channel count allows, else 1):
// `floatv` is a VW-wide vector, LOADV / STOREV move the i-th one from or to p (any address space, no alignment
// asked), and lane_sum adds a vector's lanes in a fixed order (a tree, so the same on every device). Used by the
// per-sample GroupNorm kernels (groupnorm.cl) and the narrow convolution (conv.cl's conv_narrow).
#ifndef VW
#define VW 1
#endif
#if VW == 8
typedef float8 floatv;
#define LOADV(i, p) vload8(i, p)
#define STOREV(v, i, p) vstore8(v, i, p)
#elif VW == 4
typedef float4 floatv;
#define LOADV(i, p) vload4(i, p)
#define STOREV(v, i, p) vstore4(v, i, p)
#else
typedef float floatv;
#define LOADV(i, p) ((p)[i])
#define STOREV(v, i, p) ((p)[i] = (v))
#endif

inline float lane_sum(const floatv v) {
#if VW == 8
    const float4 h = v.lo + v.hi;
    const float2 q = h.lo + h.hi;
    return q.x + q.y;
#elif VW == 4
    const float2 q = v.lo + v.hi;
    return q.x + q.y;
#else
    return v;
#endif
}
