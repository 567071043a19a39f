// elementwise.cl: element-by-element kernels over flat float views (fill, scale, axpy, add, mul, clamp).
// One work-item per element; the host launches exactly n work-items, so no bounds test is needed.
// Every tensor argument is a (pointer, element offset) pair so that views into a shared buffer work.

__kernel void fill_f32(__global float *y, const int y_off, const float value) {
    y[y_off + get_global_id(0)] = value;
}

// y = a * x
__kernel void scale_f32(const float a, __global const float *x, const int x_off,
                        __global float *y, const int y_off) {
    const int i = get_global_id(0);
    y[y_off + i] = a * x[x_off + i];
}

// y = a * x + y
__kernel void axpy_f32(const float a, __global const float *x, const int x_off,
                       __global float *y, const int y_off) {
    const int i = get_global_id(0);
    y[y_off + i] = fma(a, x[x_off + i], y[y_off + i]);
}

// z = a * x + b * y
__kernel void axpby_f32(const float a, __global const float *x, const int x_off,
                        const float b, __global const float *y, const int y_off,
                        __global float *z, const int z_off) {
    const int i = get_global_id(0);
    z[z_off + i] = a * x[x_off + i] + b * y[y_off + i];
}

// z = x * y
__kernel void mul_f32(__global const float *x, const int x_off, __global const float *y, const int y_off,
                      __global float *z, const int z_off) {
    const int i = get_global_id(0);
    z[z_off + i] = x[x_off + i] * y[y_off + i];
}

// y = min(max(x, lo), hi)
__kernel void clamp_f32(__global const float *x, const int x_off, const float lo, const float hi,
                        __global float *y, const int y_off) {
    const int i = get_global_id(0);
    y[y_off + i] = clamp(x[x_off + i], lo, hi);
}

// y[r, c] = (x[r, c] - shift[c]) * scale[c]: per-column standardisation. A 2-D range [C, R] so no index
// needs a modulo. y may alias x.
__kernel void column_affine(const int C, __global const float *x, const int x_off,
                            __global const float *shift, __global const float *scale,
                            __global float *y, const int y_off) {
    const int c = get_global_id(0), r = get_global_id(1);
    y[y_off + r * C + c] = (x[x_off + r * C + c] - shift[c]) * scale[c];
}
