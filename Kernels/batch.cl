// batch.cl: minibatches drawn from a data set held on the device (random.cl, prepended, gives Philox).
// Row i of the batch is row (word % count) of the data, word = Philox block c0 + i of the key: sampling with
// replacement, a pure function of (key, i), so a run can be replayed or resumed from its step number.
// The modulo bias is below count / 2^32 (negligible for any data set that fits a device).

int random_row(const int i, const int count, const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1) {
    const uint word = philox4x32_10((uint4)(c0 + (uint)i, c1, c2, c3), (uint2)(k0, k1)).x;
    return (int)(word % (uint)count);
}

// Range: [rows]. batch (rows x d) from data (count x d).
__kernel void gather_random_rows(const int count, const int d,
                                 __global const float *data, const int data_off,
                                 __global float *batch, const int batch_off,
                                 const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1) {
    const int i = get_global_id(0);
    const int row = random_row(i, count, c0, c1, c2, c3, k0, k1);
    for (int j = 0; j < d; j++) batch[batch_off + i * d + j] = data[data_off + row * d + j];
}

// Range: [rows]. As gather_random_rows, and the chosen rows' labels into batch_labels.
__kernel void gather_random_labelled_rows(const int count, const int d,
                                          __global const float *data, const int data_off,
                                          __global const int *labels, const int labels_off,
                                          __global float *batch, const int batch_off,
                                          __global int *batch_labels, const int batch_labels_off,
                                          const uint c0, const uint c1, const uint c2, const uint c3, const uint k0, const uint k1) {
    const int i = get_global_id(0);
    const int row = random_row(i, count, c0, c1, c2, c3, k0, k1);
    for (int j = 0; j < d; j++) batch[batch_off + i * d + j] = data[data_off + row * d + j];
    batch_labels[batch_labels_off + i] = labels[labels_off + row];
}
