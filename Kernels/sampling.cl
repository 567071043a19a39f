// sampling.cl: per-sample bookkeeping of the adaptive early-exit sampler (random.cl and schedule.cl are not
// needed). Prophet (Li et al. 2025) commits a diffusion language model's answer once its prediction stops
// changing; on continuous data the analogue is the x0-prediction: a sample stops once
//   |xhat_k - xhat_(k-1)| / (|xhat_(k-1)| + 1e-6) < threshold
// and keeps that xhat. Rows that stopped are still computed with the batch but no longer change or count.

// Range: [rows]. done and evals are per-row state, result receives each row's committed x-prediction.
__kernel void early_exit_update(const int d, const float threshold, const int final_step,
                                __global const float *xhat, const int xhat_off,
                                __global float *previous, const int previous_off,
                                __global float *result, const int result_off,
                                __global float *done, const int done_off,
                                __global float *evals, const int evals_off) {
    const int r = get_global_id(0);
    if (done[done_off + r] != 0.0f) return;
    __global const float *x = xhat + xhat_off + r * d;
    __global float *p = previous + previous_off + r * d;
    __global float *out = result + result_off + r * d;
    float change = 0.0f, norm = 0.0f;
    for (int j = 0; j < d; j++) { const float e = x[j] - p[j]; change += e * e; norm += p[j] * p[j]; }
    const bool first = evals[evals_off + r] == 0.0f;
    evals[evals_off + r] += 1.0f;
    for (int j = 0; j < d; j++) { out[j] = x[j]; p[j] = x[j]; }
    if (final_step || (!first && sqrt(change) < threshold * (sqrt(norm) + 1e-6f))) done[done_off + r] = 1.0f;
}
