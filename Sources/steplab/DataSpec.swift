import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// The `--data` / `--reference` argument: a built-in data set name or a CSV/NPY file.
enum DataSpec {
    case toy(ToyDataset)
    case file(URL, PointSet)

    static func parse(_ text: String) throws -> DataSpec {
        if let set = ToyDataset(rawValue: text) { return .toy(set) }
        let url = URL(fileURLWithPath: text)
        let ext = url.pathExtension.lowercased()
        guard ext == "csv" || ext == "npy" else {
            throw CLIError("unknown data set '\(text)': use one of \(ToyDataset.allCases.map(\.rawValue).joined(separator: ", ")), "
                           + "or a .csv / .npy file")
        }
        do { return .file(url, try PointSet.read(from: url)) } catch { throw CLIError("\(error)") }
    }

    var dimension: Int {
        switch self {
        case .toy: 2
        case let .file(_, points): points.dimension
        }
    }

    /// `count` reference points (fresh draws for a built-in set, a seeded subsample or the whole file otherwise).
    func referencePoints(count: Int, seed: UInt64) -> PointSet {
        switch self {
        case let .toy(set):
            return set.points(count: count, key: RandomKey(seed: seed, stream: 77))
        case let .file(_, points):
            return points
        }
    }

    /// Per-dimension mean and std of the data (from 65536 draws for a built-in set).
    func normalization() -> Normalization {
        switch self {
        case let .toy(set): Normalization(fitting: set.points(count: 65536, key: RandomKey(seed: 12345, stream: 78)))
        case let .file(_, points): Normalization(fitting: points)
        }
    }

    /// The training batches, standardised with `normalization`.
    func source(engine: Engine, normalization: Normalization, seed: UInt64) throws -> any BatchSource {
        switch self {
        case let .toy(set):
            return try ToySource(engine: engine, set: set, normalization: normalization, seed: seed)
        case let .file(_, points):
            let standardised = try normalization.apply(points)
            return try DeviceDataset(engine: engine, values: standardised.values, count: standardised.count,
                                     dimension: standardised.dimension, seed: seed)
        }
    }
}

/// Fresh batches of a built-in data set drawn on the device each step, standardised on the device.
final class ToySource: BatchSource {
    let engine: Engine
    let set: ToyDataset
    let key: RandomKey
    let shift, scale: Buffer<Float>
    var dimension: Int { 2 }

    init(engine: Engine, set: ToyDataset, normalization: Normalization, seed: UInt64) throws {
        self.engine = engine
        self.set = set
        key = RandomKey(seed: seed, stream: 5)
        shift = try engine.context.buffer(normalization.mean)
        scale = try engine.context.buffer(normalization.std.map { 1 / $0 })
    }

    func fill(_ batch: Tensor, step: Int) throws(OpenCLError) {
        try engine.sample(set, into: batch, key: key.at(counter: UInt64(step)))
        try engine.columnAffine(batch, shift: shift, scale: scale, into: batch)
    }
}
