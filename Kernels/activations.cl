// activations.cl: activation functions and their derivatives, and the elementwise forward/backward kernels.
// The activation is a run-time argument `act` (one program serves all five, so fewer builds):
//   0 identity, 1 ReLU, 2 SiLU, 3 GELU (tanh form, Hendrycks & Gimpel 2016), 4 tanh.
// act_forward / act_derivative exist for float, float4, float8 and float16 (suffix 4, 8, 16), so the matmul epilogues
// and the CPU GroupNorm (which prepend this file) apply them to whole vectors. The derivative is taken at the pre-activation z; ReLU's
// is 0 at z = 0, as in PyTorch.

#define GELU_K 0.7978845608028654f   /* sqrt(2/pi) */
#define GELU_A 0.044715f

#define DEFINE_ACTIVATIONS(T, SUFFIX)                                                                  \
inline T act_forward##SUFFIX(const T x, const int act) {                                              \
    switch (act) {                                                                                     \
    case 1: return fmax(x, (T)(0.0f));                                                                 \
    case 2: return x / ((T)(1.0f) + exp(-x));                                                          \
    case 3: return (T)(0.5f) * x * ((T)(1.0f) + tanh(GELU_K * (x + GELU_A * x * x * x)));              \
    case 4: return tanh(x);                                                                            \
    default: return x;                                                                                 \
    }                                                                                                  \
}                                                                                                      \
inline T act_derivative##SUFFIX(const T z, const int act) {                                           \
    switch (act) {                                                                                     \
    case 1: return clamp(sign(z), (T)(0.0f), (T)(1.0f));                                               \
    case 2: { const T s = (T)(1.0f) / ((T)(1.0f) + exp(-z)); return s * ((T)(1.0f) + z * ((T)(1.0f) - s)); } \
    case 3: {                                                                                          \
        const T t = tanh(GELU_K * (z + GELU_A * z * z * z));                                           \
        return (T)(0.5f) * ((T)(1.0f) + t)                                                              \
             + (T)(0.5f) * z * ((T)(1.0f) - t * t) * GELU_K * ((T)(1.0f) + (T)(3.0f * GELU_A) * z * z); \
    }                                                                                                  \
    case 4: { const T t = tanh(z); return (T)(1.0f) - t * t; }                                        \
    default: return (T)(1.0f);                                                                         \
    }                                                                                                  \
}

DEFINE_ACTIVATIONS(float, )
DEFINE_ACTIVATIONS(float4, 4)
DEFINE_ACTIVATIONS(float8, 8)
DEFINE_ACTIVATIONS(float16, 16)

// y = act(x)
__kernel void activation_forward(const int act, __global const float *x, const int x_off,
                                 __global float *y, const int y_off) {
    const int i = get_global_id(0);
    y[y_off + i] = act_forward(x[x_off + i], act);
}

// dz = dy * act'(z)
__kernel void activation_backward(const int act, __global const float *z, const int z_off,
                                  __global const float *dy, const int dy_off, __global float *dz, const int dz_off) {
    const int i = get_global_id(0);
    dz[dz_off + i] = dy[dy_off + i] * act_derivative(z[z_off + i], act);
}
