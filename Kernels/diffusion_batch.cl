// diffusion_batch.cl: needs random.cl, schedule.cl and diffusion.cl prepended by the host.

// One training batch of diffusion in one launch, instead of five (uniform t, normal eps, add_noise,
// network_input, diffusion_target): per row r, t_r ~ U(0, 1) from key (tc, tk) and eps_r ~ N(0, I) from key
// (ec, ek), drawn exactly as uniform_f32 and normal_f32 draw element r and elements r d .. r d + d - 1 of their
// tensors (from blocks tc0 and ec0 on), so the numbers are the unfused ones;
// z = alpha x + sigma eps goes straight into the network input row [z, emb(scale t)], and the regression
// target and weight are written as diffusion_target writes them. eps is stored only when store_eps is set.
// Range: [ceil(rows / 4)]: work-item g takes rows 4g .. 4g + 3, so each Philox block (one t block, and the
// d blocks of its 4d noise elements, which start on a block boundary) and each Box-Muller pair is computed once.
__kernel void diffusion_batch(const int rows, const int prediction, const int weighting, const int d, const int frequencies,
                              const float scale, __global const float *x, const int x_off,
                              const uint tc0, const uint tc1, const uint tc2, const uint tc3, const uint tk0, const uint tk1,
                              const uint ec0, const uint ec1, const uint ec2, const uint ec3, const uint ek0, const uint ek1,
                              __global float *t, const int t_off, __global float *eps, const int eps_off, const int store_eps,
                              __global float *input, const int input_off,
                              __global float *target, const int target_off, __global float *weight, const int weight_off) {
    const int g = get_global_id(0);
    const uint4 tw = philox4x32_10((uint4)(tc0 + (uint)g, tc1, tc2, tc3), (uint2)(tk0, tk1));
    const float times[4] = {unit_open(tw.x), unit_open(tw.y), unit_open(tw.z), unit_open(tw.w)};
    uint block = 0xffffffffu;
    float4 normals = (float4)(0.0f);
    for (int lane = 0; lane < 4 && 4 * g + lane < rows; lane++) {
        const int r = 4 * g + lane;
        const float tr = times[lane];
        t[t_off + r] = tr;
        const float a = alpha_of(tr), s = sigma_of(tr);
        __global float *row = input + input_off + r * (d + 2 * frequencies);
        for (int j = 0; j < d; j++) {
            const int i = r * d + j;
            if ((uint)(i / 4) != block) {
                block = (uint)(i / 4);
                normals = normal_block(philox4x32_10((uint4)(ec0 + block, ec1, ec2, ec3), (uint2)(ek0, ek1)));
            }
            const float ev = (i % 4) == 0 ? normals.x : (i % 4) == 1 ? normals.y : (i % 4) == 2 ? normals.z : normals.w;
            const float xv = x[x_off + i];
            if (store_eps) eps[eps_off + i] = ev;
            row[j] = a * xv + s * ev;
            target[target_off + i] = prediction == 0 ? ev : prediction == 1 ? xv : a * ev - s * xv;
        }
        write_time_embedding(row + d, row + d + frequencies, tr, frequencies, scale);
        weight[weight_off + r] = weighting == 1 ? 1.0f / (s * s) : 1.0f;
    }
}
