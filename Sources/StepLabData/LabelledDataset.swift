import OpenCLKit
import StepLabEngine

/// Labelled images uploaded once; each step gathers rows and their labels uniformly at random with replacement,
/// keyed by the step (`Kernels/batch.cl`), so a classifier's training replays exactly.
public final class LabelledDataset {
    public let engine: Engine
    public let images: Tensor
    public let labels: Buffer<Int32>
    public let key: RandomKey

    public init(engine: Engine, dataset: ImageDataset, seed: UInt64) throws(OpenCLError) {
        self.engine = engine
        images = try engine.tensor(dataset.images.values, rows: dataset.images.count, columns: dataset.images.dimension)
        labels = try engine.context.buffer(dataset.labels.map(Int32.init))
        key = RandomKey(seed: seed, stream: .labelledBatches)
    }

    /// Fills `batch` (rows x pixels) and `batchLabels` (at least rows) with the samples of step `step`.
    public func fill(_ batch: Tensor, labels batchLabels: Buffer<Int32>, step: Int) throws(OpenCLError) {
        guard batch.columns == images.columns, batchLabels.count >= batch.rows else {
            throw .invalidRequest("labelled batch of \(batch.rows)x\(batch.columns) does not fit images of \(images.columns) pixels")
        }
        try engine.gatherRandomRows(images, labels: labels, key: key.at(counter: UInt64(step)), into: batch, labels: batchLabels)
    }
}
