// elementwise.cl: element-by-element kernels over flat float buffers (fill, scale, axpy, add, mul, clamp).
// One work-item per element; the host launches exactly n work-items, so no bounds test is needed unless noted.

__kernel void fill_f32(__global float *y, const float value) {
    y[get_global_id(0)] = value;
}

// y = a * x + y
__kernel void axpy_f32(const float a, __global const float *x, __global float *y) {
    const size_t i = get_global_id(0);
    y[i] = fma(a, x[i], y[i]);
}
