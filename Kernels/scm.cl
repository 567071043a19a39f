// scm.cl: continuous-time consistency models, sCT and sCD (Lu & Song 2024, "Simplifying, Stabilizing and Scaling
// Continuous-Time Consistency Models"); random.cl and schedule.cl are prepended by the host.
// TrigFlow: x_t = cos(t) x + sin(t) sd eps, t in [0, pi/2], and the model f(x_t, t) = cos(t) x_t - sin(t) sd F(x_t / sd, t).
// With sigma = sd tan(t), x_t / cos(t) = x + sigma eps and f is the EDM denoiser without the boundary scalings,
// D = c_skip x_sigma + c_out N with F = -N and the network N reading [x_t / sd, emb(ln(sigma) / 4)]: an edm run is an
// sCM network as it stands (--init), and its N gives the teacher's flow dx_t/dt = sd F = -sd N (sCD).
// CPU twins: Reference.scmSigma, Reference.scmLoss (SCM.swift).

// cos(t) and sin(t) at sigma = sd tan(t), without forming t.
inline float2 scm_angle(const float sigma, const float sd) {
    const float radius = sqrt(sigma * sigma + sd * sd);
    return (float2)(sd / radius, sigma / radius);
}

// One training batch: per row r, ln sigma ~ N(p_mean, p_std^2) from block tc0 + r of key (tc, tk) (Box-Muller on its
// first two words), clamped to [smin, smax]; eps ~ N(0, I) as normal_f32 draws elements r d .. r d + d - 1 (from block
// ec0 on). Writes sigma; the network's time c = ln(sigma) / 4; x_sigma = x + sigma eps; v = dx_t/dt = cos(t) sd eps - sin(t) x (sCT's flow, which sCD
// replaces); the network input [x_t / sd, emb(scale c)] with c = ln(sigma) / 4; its tangent along (dx_t, dc) =
// (v, 1 / (4 sin cos)) dt, scaled by sin(t) cos(t) so that no 1 / sin(t) cos(t) is formed: [sin cos v / sd,
// d emb/dc / 4]; and the adaptive weighting's features [cos 2kt, sin 2kt] for k = 1 .. kf. Range: [rows].
__kernel void scm_batch(const int d, const int frequencies, const float scale, const float sd, const float smin,
                        const float smax, const float p_mean, const float p_std, const int kf,
                        __global const float *x, const int x_off,
                        const uint tc0, const uint tc1, const uint tc2, const uint tc3, const uint tk0, const uint tk1,
                        const uint ec0, const uint ec1, const uint ec2, const uint ec3, const uint ek0, const uint ek1,
                        __global float *sigma_out, const int sigma_off, __global float *times, const int times_off,
                        __global float *noisy, const int noisy_off,
                        __global float *v, const int v_off, __global float *input, const int input_off,
                        __global float *tangent, const int tangent_off, __global float *features, const int features_off) {
    const int r = get_global_id(0);
    const uint4 w = philox4x32_10((uint4)(tc0 + (uint)r, tc1, tc2, tc3), (uint2)(tk0, tk1));
    const float sigma = clamp(exp(p_mean + p_std * box_muller(w.x, w.y).x), smin, smax);
    const float2 cs = scm_angle(sigma, sd);
    const float sc = cs.x * cs.y;
    const float cnoise = 0.25f * log(sigma);
    sigma_out[sigma_off + r] = sigma;
    times[times_off + r] = cnoise;
    const int width = d + 2 * frequencies;
    __global float *row = input + input_off + (size_t)r * width;
    __global float *trow = tangent + tangent_off + (size_t)r * width;
    for (int j = 0; j < d; j++) {
        const int i = r * d + j;
        const float e = normal_element(i, ec0, ec1, ec2, ec3, ek0, ek1);
        const float xv = x[x_off + i];
        const float flow = cs.x * sd * e - cs.y * xv;
        noisy[noisy_off + i] = xv + sigma * e;
        v[v_off + i] = flow;
        row[j] = (cs.x * xv + cs.y * sd * e) / sd;
        trow[j] = sc * flow / sd;
    }
    write_time_embedding(row + d, row + d + frequencies, cnoise, frequencies, scale);
    for (int f = 0; f < frequencies; f++) {
        const float rate = scale * exp(-log(10000.0f) * (float)f / (float)frequencies);
        trow[d + f] = 0.25f * rate * row[d + frequencies + f];
        trow[d + frequencies + f] = -0.25f * rate * row[d + f];
    }
    const float t = atan2(cs.y, cs.x);
    for (int k = 0; k < kf; k++) {
        features[features_off + r * 2 * kf + k] = cos(2.0f * (k + 1) * t);
        features[features_off + r * 2 * kf + kf + k] = sin(2.0f * (k + 1) * t);
    }
}

// sCD: the teacher's flow v = -sd N_teacher replaces sCT's, and the first d columns of the tangent rows with it
// (sin cos v / sd, as scm_batch writes them). Range: [rows * d].
__kernel void scm_teacher_flow(const int d, const int width, const float sd, __global const float *net, const int net_off,
                               __global const float *sigma, const int sigma_off, __global float *v, const int v_off,
                               __global float *tangent, const int tangent_off) {
    const int i = get_global_id(0), r = i / d;
    const float2 cs = scm_angle(sigma[sigma_off + r], sd);
    const float flow = -sd * net[net_off + i];
    v[v_off + i] = flow;
    tangent[tangent_off + r * width + (i - r * d)] = cs.x * cs.y * flow / sd;
}

// The loss of one row (sCM Algorithm 1, written for N = -F): with J = sin cos dN/dt (the JVP along scm_batch's
// scaled tangent) and x_t = cos(t) x_sigma,
//   g = cos^2 (sd N + v) - warm (sin cos x_t - sd J),   g <- g / (||g|| + c),
// so that F - F^- - g of the paper is -(N - N^- + g). With N^- = sg(N) the loss e^w ||N - N^- + g||^2 / d - w has the
// value e^w m - w (m = ||g||^2 / d) and the gradients dL/dN = 2 e^w g / (d B) and dL/dw = (e^w m - 1) / B, w the
// row's adaptive weight. loss_r = e^w m - w. Range: [rows].
__kernel void scm_loss(const int d, const float sd, const float inv_batch, const float warm, const float c,
                       __global const float *net, const int net_off, __global const float *jvp, const int jvp_off,
                       __global const float *noisy, const int noisy_off, __global const float *v, const int v_off,
                       __global const float *sigma, const int sigma_off, __global const float *weight, const int weight_off,
                       __global float *loss, const int loss_off, __global float *grad, const int grad_off,
                       __global float *dweight, const int dweight_off) {
    const int r = get_global_id(0);
    const float2 cs = scm_angle(sigma[sigma_off + r], sd);
    const float cc = cs.x * cs.x, sc = cs.x * cs.y;
    float squares = 0.0f;
    for (int j = 0; j < d; j++) {
        const int i = r * d + j;
        const float g = cc * (sd * net[net_off + i] + v[v_off + i]) - warm * (sc * cs.x * noisy[noisy_off + i] - sd * jvp[jvp_off + i]);
        grad[grad_off + i] = g;
        squares += g * g;
    }
    const float inv_norm = 1.0f / (sqrt(squares) + c);
    const float m = squares * inv_norm * inv_norm / d, w = weight[weight_off + r], ew = exp(w);
    loss[loss_off + r] = ew * m - w;
    dweight[dweight_off + r] = (ew * m - 1.0f) * inv_batch;
    const float s = 2.0f * ew * inv_norm * inv_batch / d;
    for (int j = 0; j < d; j++) grad[grad_off + r * d + j] *= s;
}
