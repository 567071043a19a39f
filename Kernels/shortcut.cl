// shortcut.cl: shortcut models (Frans, Hafner, Levine, Abbeel 2025), needs random.cl and schedule.cl prepended by the
// host. On the flow z_t = (1 - t) x + t eps (t = 1 noise), the network s(z_t, t, d) gives the jump
// z_{t - d} = z_t - d s(z_t, t, d); at the smallest step d = 2^-levels it is trained on the flow's velocity
// v = eps - x (flow matching, the paper's code conditions it so), and at d = 2^-k, k < levels, on the mean of two half
// jumps of the model itself (self-consistency), so the chain of halvings ends on the flow-matching step.
// CPU twins: Reference.shortcutDraws (Shortcut.swift).

// One training batch. Rows whose global index (first_row + r) is below `bootstrap_rows` are self-consistency rows:
// d = 2^-k with k uniform in 0 .. levels - 1, t = d (1 + j) with j uniform in 0 .. 1/d - 1 (so t - d >= 0); the
// others are flow-matching rows: t uniform in (0, 1), d = 2^-levels, and their target v. Row r takes Philox block tc0 + r of
// key (tc, tk) for its draws and eps as normal_f32 draws elements r d .. (block ec0 on). Writes the network input
// [z, emb(scale t)], the times [t, d], the half-jump times [t, d / 2] and, for flow-matching rows, the target.
// Range: [rows].
__kernel void shortcut_batch(const int dim, const int frequencies, const float scale, const int first_row,
                             const int bootstrap_rows, const int levels, __global const float *x, const int x_off,
                             const uint tc0, const uint tc1, const uint tc2, const uint tc3, const uint tk0, const uint tk1,
                             const uint ec0, const uint ec1, const uint ec2, const uint ec3, const uint ek0, const uint ek1,
                             __global float *input, const int input_off, __global float *times, const int times_off,
                             __global float *half_times, const int half_times_off, __global float *target, const int target_off) {
    const int r = get_global_id(0);
    const uint4 w = philox4x32_10((uint4)(tc0 + (uint)r, tc1, tc2, tc3), (uint2)(tk0, tk1));
    const int bootstrap = first_row + r < bootstrap_rows;
    float t, d;
    if (bootstrap) {
        const int k = (int)(w.x % (uint)levels), slots = 1 << k;
        d = 1.0f / (float)slots;
        t = d * (float)(1 + (int)(w.y % (uint)slots));
    } else {
        t = unit_open(w.x);
        d = 1.0f / (float)(1 << levels);
    }
    times[times_off + 2 * r] = t;
    times[times_off + 2 * r + 1] = d;
    half_times[half_times_off + 2 * r] = t;
    half_times[half_times_off + 2 * r + 1] = 0.5f * d;
    __global float *row = input + input_off + (size_t)r * (dim + 2 * frequencies);
    for (int j = 0; j < dim; j++) {
        const int i = r * dim + j;
        const float4 normals = normal_block(philox4x32_10((uint4)(ec0 + (uint)(i / 4), ec1, ec2, ec3), (uint2)(ek0, ek1)));
        const float e = (i % 4) == 0 ? normals.x : (i % 4) == 1 ? normals.y : (i % 4) == 2 ? normals.z : normals.w;
        const float xv = x[x_off + i];
        row[j] = (1.0f - t) * xv + t * e;
        if (!bootstrap) target[target_off + i] = e - xv;
    }
    write_time_embedding(row + dim, row + dim + frequencies, t, frequencies, scale);
}

// A half jump of self-consistency rows: from the input [z, emb(t)] at the half-jump times [t, d / 2] and the model's
// s = s(z, t, d / 2), the next input [z - (d / 2) s, emb(scale (t - d / 2))] and times [t - d / 2, d / 2].
// Range: [rows].
__kernel void shortcut_half_step(const int dim, const int frequencies, const float scale,
                                 __global const float *input, const int input_off, __global const float *times, const int times_off,
                                 __global const float *s, const int s_off,
                                 __global float *next, const int next_off, __global float *next_times, const int next_times_off) {
    const int r = get_global_id(0);
    const int width = dim + 2 * frequencies;
    const float t = times[times_off + 2 * r], h = times[times_off + 2 * r + 1];
    __global const float *row = input + input_off + (size_t)r * width;
    __global float *out = next + next_off + (size_t)r * width;
    for (int j = 0; j < dim; j++) out[j] = row[j] - h * s[s_off + r * dim + j];
    write_time_embedding(out + dim, out + dim + frequencies, t - h, frequencies, scale);
    next_times[next_times_off + 2 * r] = t - h;
    next_times[next_times_off + 2 * r + 1] = h;
}
