// loss.cl: per-sample weighted losses, value and gradient in one pass. One work-item per row (sample).
// The batch loss is L = (1/B) sum_i loss_i; `grad` receives dL/dpred.
//   kind 0, squared error:  loss_i = w_i * (1/d) * sum_j (p_ij - y_ij)^2
//   kind 1, pseudo-Huber:   loss_i = w_i * (sqrt(||p_i - y_i||^2 + c^2) - c)   (iCT, Song & Dhariwal 2023,
//                           on the whole sample vector as the paper writes it)
// weights may be absent (has_weights = 0): w_i = 1.

__kernel void weighted_loss(const int kind, const int d, const float inv_batch, const float c,
                            __global const float *pred, const int pred_off,
                            __global const float *target, const int target_off,
                            __global const float *weights, const int weights_off, const int has_weights,
                            __global float *loss, const int loss_off,
                            __global float *grad, const int grad_off) {
    const int i = get_global_id(0);
    __global const float *p = pred + pred_off + i * d;
    __global const float *y = target + target_off + i * d;
    __global float *g = grad + grad_off + i * d;
    const float w = has_weights ? weights[weights_off + i] : 1.0f;
    float squares = 0.0f;
    for (int j = 0; j < d; j++) { const float e = p[j] - y[j]; squares += e * e; }
    if (kind == 1) {
        const float r = sqrt(squares + c * c);
        loss[loss_off + i] = w * (r - c);
        const float s = r > 0.0f ? w * inv_batch / r : 0.0f;
        for (int j = 0; j < d; j++) g[j] = s * (p[j] - y[j]);
    } else {
        loss[loss_off + i] = w * squares / d;
        const float s = 2.0f * w * inv_batch / d;
        for (int j = 0; j < d; j++) g[j] = s * (p[j] - y[j]);
    }
}

// Softmax cross-entropy over k classes, one work-item per row: loss_i = logsumexp(z_i) - z_i[label_i],
// grad = dL/dz of L = (1/B) sum_i loss_i, i.e. (softmax(z_i) - onehot(label_i)) / B, and correct_i = 1 when
// the first largest logit is the label's (0 otherwise). The max is subtracted before exp, so large logits
// never overflow.
__kernel void softmax_cross_entropy(const int k, const float inv_batch,
                                    __global const float *logits, const int logits_off,
                                    __global const int *labels, const int labels_off,
                                    __global float *loss, const int loss_off,
                                    __global float *grad, const int grad_off,
                                    __global float *correct, const int correct_off) {
    const int i = get_global_id(0);
    __global const float *z = logits + logits_off + i * k;
    __global float *g = grad + grad_off + i * k;
    const int label = labels[labels_off + i];
    float top = z[0];
    int best = 0;
    for (int j = 1; j < k; j++) if (z[j] > top) { top = z[j]; best = j; }
    float sum = 0.0f;
    for (int j = 0; j < k; j++) sum += exp(z[j] - top);
    const float lse = top + log(sum);
    loss[loss_off + i] = lse - z[label];
    for (int j = 0; j < k; j++) g[j] = inv_batch * (exp(z[j] - lse) - (j == label ? 1.0f : 0.0f));
    correct[correct_off + i] = best == label ? 1.0f : 0.0f;
}
