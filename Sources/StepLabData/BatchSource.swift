import OpenCLKit
import StepLabEngine

/// Where a trainer's clean samples x0 come from, one minibatch per step.
public protocol BatchSource {
    /// Data dimension.
    var dimension: Int { get }
    /// Fills `batch` (rows x dimension) with the samples of training step `step`. Must be a pure function of
    /// the step (and the source's seed), so runs replay and resume exactly.
    func fill(_ batch: Tensor, step: Int) throws(OpenCLError)
    /// Fills `batch` with rows `firstRow ..< firstRow + batch.rows` of step `step`'s batch: a data-parallel
    /// replica's share, the same rows a single device would hold there.
    func fill(_ batch: Tensor, step: Int, firstRow: Int) throws(OpenCLError)
}

extension BatchSource {
    public func fill(_ batch: Tensor, step: Int) throws(OpenCLError) { try fill(batch, step: step, firstRow: 0) }
}

/// A finite data set uploaded once; each step gathers rows uniformly at random with replacement
/// (`Kernels/batch.cl`), keyed by the step.
public final class DeviceDataset: BatchSource {
    public let engine: Engine
    public let data: Tensor
    public let key: RandomKey
    public var dimension: Int { data.columns }

    /// `values` is row-major (count x dimension).
    public init(engine: Engine, values: [Float], count: Int, dimension: Int, seed: UInt64, stream: RandomStream = .datasetRows) throws(OpenCLError) {
        self.engine = engine
        data = try engine.tensor(values, rows: count, columns: dimension)
        key = RandomKey(seed: seed, stream: stream)
    }

    public func fill(_ batch: Tensor, step: Int, firstRow: Int) throws(OpenCLError) {
        guard batch.columns == dimension else {
            throw .invalidRequest("batch has \(batch.columns) columns, data set has \(dimension)")
        }
        try engine.gatherRandomRows(data, key: key.at(counter: UInt64(step)).starting(atBlock: firstRow), into: batch)
    }
}
