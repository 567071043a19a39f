// optimizer.cl: AdamW over a flat parameter buffer in one launch, and the EMA of weights.
//
// AdamW (Loshchilov & Hutter 2019) in PyTorch's order: p <- p * (1 - lr * wd), then the Adam step
// p <- p - lr * mhat / (sqrt(vhat) + eps), mhat = m / (1 - beta1^t), vhat = v / (1 - beta2^t).
// Gradient clipping by global norm reads the squared norm from the device (sumsq[0]) so no host round
// trip is needed: g <- g * min(1, max_norm / (norm + 1e-6)); max_norm <= 0 disables it.

__kernel void adamw_step(__global float *p, __global const float *g, __global float *m, __global float *v,
                         const float lr, const float beta1, const float beta2, const float eps, const float wd,
                         const float bias_correction1, const float bias_correction2,
                         __global const float *sumsq, const float max_norm) {
    const int i = get_global_id(0);
    float scale = 1.0f;
    if (max_norm > 0.0f) scale = min(1.0f, max_norm / (sqrt(sumsq[0]) + 1e-6f));
    const float gi = g[i] * scale;
    const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float step = (mi / bias_correction1) / (sqrt(vi / bias_correction2) + eps);
    p[i] = p[i] * (1.0f - lr * wd) - lr * step;
}

// ema <- decay * ema + (1 - decay) * p
__kernel void ema_update(__global float *ema, __global const float *p, const float decay) {
    const int i = get_global_id(0);
    ema[i] = decay * ema[i] + (1.0f - decay) * p[i];
}
