// batch.cl: minibatches drawn from a data set held on the device (random.cl, prepended, gives Philox).
// Row i of the batch is row (word % count) of the data, word = Philox block i of the key: sampling with
// replacement, a pure function of (key, i), so a run can be replayed or resumed from its step number.
// The modulo bias is below count / 2^32 (negligible for any data set that fits a device).

// Range: [rows]. batch (rows x d) from data (count x d).
__kernel void gather_random_rows(const int count, const int d,
                                 __global const float *data, const int data_off,
                                 __global float *batch, const int batch_off,
                                 const uint c1, const uint c2, const uint c3, const uint k0, const uint k1) {
    const int i = get_global_id(0);
    const uint word = philox4x32_10((uint4)((uint)i, c1, c2, c3), (uint2)(k0, k1)).x;
    const int row = (int)(word % (uint)count);
    for (int j = 0; j < d; j++) batch[batch_off + i * d + j] = data[data_off + row * d + j];
}
