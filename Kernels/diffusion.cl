// diffusion.cl: what the diffusion objective needs beyond schedule.cl (which the host prepends): the
// regression target and per-sample weight for each parameterisation, and the conversion of a network output
// back to an x-prediction for the samplers.
//   prediction 0 eps:  target eps;                x = (z - sigma eps_hat) / alpha
//   prediction 1 x:    target x;                  x = out
//   prediction 2 v:    target alpha eps - sigma x (Salimans & Ho 2022);  x = alpha z - sigma v_hat
//   weighting  0: w = 1;   1: w = SNR + 1 = 1 / sigma^2 (for x-prediction this is the v-loss, MCM Sec. 3)

// Range: [rows]. target (rows x d), weight (rows x 1).
__kernel void diffusion_target(const int prediction, const int weighting, const int d,
                               __global const float *t, const int t_off,
                               __global const float *x, const int x_off,
                               __global const float *eps, const int eps_off,
                               __global float *target, const int target_off,
                               __global float *weight, const int weight_off) {
    const int r = get_global_id(0);
    const float a = alpha_of(t[t_off + r]), s = sigma_of(t[t_off + r]);
    for (int j = 0; j < d; j++) {
        const float xv = x[x_off + r * d + j], ev = eps[eps_off + r * d + j];
        target[target_off + r * d + j] = prediction == 0 ? ev : prediction == 1 ? xv : a * ev - s * xv;
    }
    weight[weight_off + r] = weighting == 1 ? 1.0f / (s * s) : 1.0f;
}

// xhat = x-prediction from the network output `out` at (z, t), clamped to [-clip, clip] when clip > 0.
// Range: [rows * d].
__kernel void prediction_to_x(const int prediction, const int d, const float clip,
                              __global const float *t, const int t_off,
                              __global const float *z, const int z_off,
                              __global const float *out, const int out_off,
                              __global float *xhat, const int xhat_off) {
    const int i = get_global_id(0), r = i / d;
    const float a = alpha_of(t[t_off + r]), s = sigma_of(t[t_off + r]);
    const float o = out[out_off + i], zv = z[z_off + i];
    float xv = prediction == 0 ? (zv - s * o) / a : prediction == 1 ? o : a * zv - s * o;
    if (clip > 0.0f) xv = clamp(xv, -clip, clip);
    xhat[xhat_off + i] = xv;
}

// dL/d(out) from dL/d(xhat) through prediction_to_x (linear in out): x: 1, v: -sigma, eps: -sigma / alpha.
// Range: [rows * d].
__kernel void prediction_gradient(const int prediction, const int d, __global const float *t, const int t_off,
                                  __global const float *gx, const int gx_off, __global float *gout, const int gout_off) {
    const int i = get_global_id(0), r = i / d;
    const float a = alpha_of(t[t_off + r]), s = sigma_of(t[t_off + r]);
    const float scale = prediction == 0 ? -s / a : prediction == 1 ? 1.0f : -s;
    gout[gout_off + i] = scale * gx[gx_off + i];
}
