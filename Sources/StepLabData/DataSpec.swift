import Foundation
import OpenCLKit
import StepLabEngine

/// A data argument (`--data`, `--reference`): a built-in data set name, `fashion-mnist`, a CSV/NPY file of points,
/// or an NPY array of images (`NPYImages`).
public enum DataSpec {
    case toy(ToyDataset)
    /// Fashion-MNIST: trains on the training split; the test split is the reference.
    case fashionMNIST(train: ImageDataset, test: ImageDataset)
    case file(URL, PointSet)
    /// Images from an NPY array, NHWC rows in [-1, 1]: the training data and the reference alike.
    case images(URL, PointSet, ImageShape)

    /// The name that selects Fashion-MNIST.
    public static let fashionMNISTName = "fashion-mnist"

    /// Every built-in data set name.
    public static var builtInNames: [String] { ToyDataset.allCases.map(\.rawValue) + [fashionMNISTName] }

    /// Parses a name or a path; a file is read (and validated) at once. Errors are one-line `DataError`s.
    public static func parse(_ text: String) throws(DataError) -> DataSpec {
        if let set = ToyDataset(rawValue: text) { return .toy(set) }
        if text == fashionMNISTName { return .fashionMNIST(train: try FashionMNIST.load(.train), test: try FashionMNIST.load(.test)) }
        let url = URL(fileURLWithPath: text)
        let ext = url.pathExtension.lowercased()
        guard ext == "csv" || ext == "npy" else {
            throw DataError("unknown data set '\(text)': use one of \(builtInNames.joined(separator: ", ")), or a .csv / .npy file")
        }
        if NPYImages.holdsImages(url) {
            let (images, shape) = try NPYImages.read(from: url)
            return .images(url, images, shape)
        }
        return .file(url, try PointSet.read(from: url))
    }

    public var dimension: Int {
        switch self {
        case .toy: 2
        case let .fashionMNIST(train, _): train.images.dimension
        case let .file(_, points): points.dimension
        case let .images(_, images, _): images.dimension
        }
    }

    /// The shape of image data, nil for points.
    public var imageShape: ImageShape? {
        switch self {
        case let .fashionMNIST(train, _): train.shape
        case let .images(_, _, shape): shape
        default: nil
        }
    }

    /// The x-prediction clamp DDIM and aDDIM apply by default: 1 for images, whose pixels lie in [-1, 1] (DDPM's
    /// clip_denoised), none for standardised data, which has no bound.
    public var sampleClip: Float { imageShape == nil ? 0 : 1 }
    /// `sampleClip` for the data a run names (`RunConfig.data`), reading no more than an NPY file's header.
    public static func sampleClip(data name: String) -> Float {
        name == fashionMNISTName || NPYImages.holdsImages(URL(fileURLWithPath: name)) ? 1 : 0
    }

    /// `count` reference points (fresh draws for a built-in set, a seeded subsample or the whole file otherwise).
    public func referencePoints(count: Int, seed: UInt64) -> PointSet {
        switch self {
        case let .toy(set):
            return set.points(count: count, key: RandomKey(seed: seed, stream: .referencePoints))
        case let .fashionMNIST(_, test):
            return test.images.subsample(count: count, seed: seed)
        case let .file(_, points):
            return points
        case let .images(_, images, _):
            return images.subsample(count: count, seed: seed)
        }
    }

    /// The images image metrics score against: Fashion-MNIST's test split, or an image file whole; nil for points.
    public var imageReference: PointSet? {
        switch self {
        case let .fashionMNIST(_, test): test.images
        case let .images(_, images, _): images
        default: nil
        }
    }

    /// An image metric's noise floor: `count` data images (`sample`) scored against `reference` (nil: against
    /// `imageReference`). Fashion-MNIST: training images against the test split. An image file: a random half of it
    /// against the other half, disjoint, so that shared images cannot flatter the floor. Nil for points.
    public func imageFloor(count: Int, seed: UInt64) -> (sample: PointSet, reference: PointSet?)? {
        switch self {
        case let .fashionMNIST(train, _):
            return (train.images.subsample(count: count, seed: seed), nil)
        case let .images(_, images, _):
            let (a, b) = images.disjointHalves(seed: seed)
            return (a.subsample(count: count, seed: seed), b)
        default:
            return nil
        }
    }

    /// The features image metrics read: StepLab's Fashion-MNIST classifier (loaded from its cache, or trained and
    /// cached, `log` telling), or `RandomImageFeatures` for an image file; nil for points.
    public func imageFeatureExtractor(engine: Engine, log: (String) -> Void) throws -> (any ImageFeatureExtractor)? {
        switch self {
        case .fashionMNIST: try ImageClassifier.fashionMNIST(engine: engine, log: log)
        case let .images(_, _, shape): RandomImageFeatures(shape: shape)
        default: nil
        }
    }

    /// Per-dimension mean and std of the data (from 65536 draws for a built-in set). Images are already in
    /// [-1, 1] and are left as they are: per-pixel standardisation would blow up the near-constant border pixels.
    public func normalization() -> Normalization {
        switch self {
        case let .toy(set): Normalization(fitting: set.points(count: 65536, key: RandomKey(seed: 12345, stream: .normalizationFit)))
        case .fashionMNIST, .images: Normalization(mean: Array(repeating: 0, count: dimension), std: Array(repeating: 1, count: dimension))
        case let .file(_, points): Normalization(fitting: points)
        }
    }

    /// The training batches, standardised with `normalization`.
    public func source(engine: Engine, normalization: Normalization, seed: UInt64) throws -> any BatchSource {
        switch self {
        case let .toy(set):
            return try ToySource(engine: engine, set: set, normalization: normalization, seed: seed)
        case let .fashionMNIST(train, _):
            return try DeviceDataset(engine: engine, values: train.images.values, count: train.images.count,
                                     dimension: train.images.dimension, seed: seed)
        case let .images(_, images, _):
            return try DeviceDataset(engine: engine, values: images.values, count: images.count, dimension: images.dimension, seed: seed)
        case let .file(_, points):
            let standardised = try normalization.apply(points)
            return try DeviceDataset(engine: engine, values: standardised.values, count: standardised.count,
                                     dimension: standardised.dimension, seed: seed)
        }
    }
}

/// Fresh batches of a built-in data set drawn on the device each step, standardised on the device.
public final class ToySource: BatchSource {
    let engine: Engine
    let set: ToyDataset
    let key: RandomKey
    let shift, scale: Buffer<Float>
    public var dimension: Int { 2 }

    init(engine: Engine, set: ToyDataset, normalization: Normalization, seed: UInt64) throws {
        self.engine = engine
        self.set = set
        key = RandomKey(seed: seed, stream: .batches)
        shift = try engine.context.buffer(normalization.mean)
        scale = try engine.context.buffer(normalization.std.map { 1 / $0 })
    }

    public func fill(_ batch: Tensor, step: Int, firstRow: Int) throws(OpenCLError) {
        // Point i draws Philox block i.
        try engine.sample(set, into: batch, key: key.at(counter: UInt64(step)).starting(atBlock: firstRow))
        try engine.columnAffine(batch, shift: shift, scale: scale, into: batch)
    }
}
