import OpenCLKit

/// Minibatches drawn on the device (`Kernels/batch.cl`): row i of a batch is row `w mod count` of the data, with w the
/// first Philox word of block i of the draw's key, so a batch is a pure function of the key and a shard of rows draws
/// exactly its rows of the whole batch (`RandomKey.starting(atBlock:)`).
extension Engine {
    /// `batch` (rows x d) filled with rows of `data` (count x d) drawn uniformly with replacement by `key`.
    public func gatherRandomRows(_ data: Tensor, key: RandomKey, into batch: Tensor) throws(OpenCLError) {
        guard batch.columns == data.columns, data.rows > 0 else {
            throw .invalidRequest("gatherRandomRows: a batch of \(batch.columns) columns from \(data.rows)x\(data.columns) data")
        }
        let (c, k) = (key.philoxCounter, key.philoxKey)
        try launch("batch.cl", "gather_random_rows", global: [batch.rows], Int32(data.rows), Int32(data.columns),
                   data.storage, data.kernelOffset, batch.storage, batch.kernelOffset, c[0], c[1], c[2], c[3], k[0], k[1])
    }

    /// `gatherRandomRows` of labelled data: the drawn rows of `data` into `batch` and their `labels` into the first
    /// `batch.rows` entries of `batchLabels`.
    public func gatherRandomRows(_ data: Tensor, labels: Buffer<Int32>, key: RandomKey, into batch: Tensor,
                                 labels batchLabels: Buffer<Int32>) throws(OpenCLError) {
        guard batch.columns == data.columns, data.rows > 0, labels.count >= data.rows, batchLabels.count >= batch.rows else {
            throw .invalidRequest("gatherRandomRows: a labelled batch of \(batch.rows)x\(batch.columns) (\(batchLabels.count) labels) from "
                                  + "\(data.rows)x\(data.columns) data with \(labels.count) labels")
        }
        let (c, k) = (key.philoxCounter, key.philoxKey)
        try launch("batch.cl", "gather_random_labelled_rows", global: [batch.rows], Int32(data.rows), Int32(data.columns),
                   data.storage, data.kernelOffset, labels, Int32(0), batch.storage, batch.kernelOffset, batchLabels, Int32(0),
                   c[0], c[1], c[2], c[3], k[0], k[1])
    }
}

extension Reference {
    /// The data rows `gatherRandomRows` draws for a batch of `rows` from `count` rows with `key`.
    public static func randomRows(_ rows: Int, from count: Int, key: RandomKey) -> [Int] {
        let words = randomBits(count: 4 * rows, key: key)
        return (0 ..< rows).map { Int(words[4 * $0] % UInt32(count)) }
    }
}
