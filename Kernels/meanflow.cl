// meanflow.cl: MeanFlow (Geng, Deng, Bai, Kolter, He 2025), needs random.cl and schedule.cl prepended by the host.
// The flow z_t = (1 - t) x + t eps from data (t = 0) to noise (t = 1), velocity v = eps - x; the network predicts
// the average velocity u(z_t, r, t) = (1 / (t - r)) int_r^t v dtau, conditioned on the times (t, t - r). The
// MeanFlow identity u = v - (t - r) du/dt, du/dt = v d_z u + d_t u, gives the regression target.
// CPU twins: Reference.meanFlowTimes, Reference.meanFlowLoss (MeanFlow.swift).

// (t, r) for one row from one Philox block: both logit-normal(mu, sigma) (two Box-Muller normals), t the larger;
// r = t (plain flow matching at that row) unless the block's third word falls under `ratio`, the share of r != t.
inline float2 meanflow_times(const uint4 w, const float mu, const float sigma, const float ratio) {
    const float2 n = box_muller(w.x, w.y);
    const float a = 1.0f / (1.0f + exp(-(mu + sigma * n.x))), b = 1.0f / (1.0f + exp(-(mu + sigma * n.y)));
    const float t = fmax(a, b);
    return (float2)(t, unit_open(w.z) < ratio ? fmin(a, b) : t);
}

// One training batch: per row r, (t, r) from block tc0 + r of key (tc, tk), eps_r ~ N(0, I) drawn as normal_f32
// draws elements r d .. r d + d - 1 (from block ec0 on). Writes the network input [z, emb(scale t)] and its
// tangent along (dz/dt, dt/dt) = (v, 1), that is [v, d emb/dt]; the times [t, t - r]; and v.
// Range: [rows].
__kernel void meanflow_batch(const int d, const int frequencies, const float scale, const float mu, const float sigma,
                             const float ratio, __global const float *x, const int x_off,
                             const uint tc0, const uint tc1, const uint tc2, const uint tc3, const uint tk0, const uint tk1,
                             const uint ec0, const uint ec1, const uint ec2, const uint ec3, const uint ek0, const uint ek1,
                             __global float *input, const int input_off, __global float *tangent, const int tangent_off,
                             __global float *times, const int times_off, __global float *v, const int v_off) {
    const int r = get_global_id(0);
    const float2 tr = meanflow_times(philox4x32_10((uint4)(tc0 + (uint)r, tc1, tc2, tc3), (uint2)(tk0, tk1)), mu, sigma, ratio);
    const float t = tr.x;
    times[times_off + 2 * r] = t;
    times[times_off + 2 * r + 1] = t - tr.y;
    const int width = d + 2 * frequencies;
    __global float *row = input + input_off + (size_t)r * width;
    __global float *trow = tangent + tangent_off + (size_t)r * width;
    for (int j = 0; j < d; j++) {
        const int i = r * d + j;
        const float e = normal_element(i, ec0, ec1, ec2, ec3, ek0, ek1);
        const float xv = x[x_off + i];
        row[j] = (1.0f - t) * xv + t * e;
        trow[j] = e - xv;
        v[v_off + i] = e - xv;
    }
    write_time_embedding(row + d, row + d + frequencies, t, frequencies, scale);
    for (int f = 0; f < frequencies; f++) {
        const float w = scale * exp(-log(10000.0f) * (float)f / (float)frequencies);
        trow[d + f] = w * row[d + frequencies + f];
        trow[d + frequencies + f] = -w * row[d + f];
    }
}

// The loss of one row: target = v - (t - r) du/dt (a constant: no gradient flows through it), delta = u - target,
// m = mean_j delta_j^2, and the adaptive weight w = 1 / (m + c)^p (p = 1: MeanFlow's default; p = 0.5 is close to
// a pseudo-Huber loss). loss_r = m (what is logged); grad = w * 2 delta / (d B), the gradient of the batch mean of
// sg(w) m. Range: [rows].
__kernel void meanflow_loss(const int d, const float inv_batch, const float p, const float c,
                            __global const float *u, const int u_off, __global const float *dudt, const int dudt_off,
                            __global const float *v, const int v_off, __global const float *times, const int times_off,
                            __global float *loss, const int loss_off, __global float *grad, const int grad_off) {
    const int r = get_global_id(0);
    const float h = times[times_off + 2 * r + 1];
    float squares = 0.0f;
    for (int j = 0; j < d; j++) {
        const int i = r * d + j;
        const float delta = u[u_off + i] - (v[v_off + i] - h * dudt[dudt_off + i]);
        squares += delta * delta;
    }
    const float m = squares / d;
    loss[loss_off + r] = m;
    const float s = 2.0f * inv_batch / (d * pow(m + c, p));
    for (int j = 0; j < d; j++) {
        const int i = r * d + j;
        grad[grad_off + i] = s * (u[u_off + i] - (v[v_off + i] - h * dudt[dudt_off + i]));
    }
}
