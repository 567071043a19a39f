import Foundation
import Synchronization

/// Labelled images, one row per image (`ImageShape`'s NHWC order) with pixels scaled to [-1, 1] (the range
/// diffusion models are trained on, Ho et al. 2020).
public struct ImageDataset: Sendable {
    /// Images as points, `count x shape.pixels`.
    public let images: PointSet
    /// The class of each image, in `0 ..< classNames.count`.
    public let labels: [Int]
    public let shape: ImageShape
    public let classNames: [String]

    /// A data set of `images.count` images of `shape`; every label must index `classNames`.
    public init(images: PointSet, labels: [Int], shape: ImageShape, classNames: [String]) {
        precondition(images.dimension == shape.pixels && labels.count == images.count
                     && labels.allSatisfy { (0 ..< classNames.count).contains($0) }, "ImageDataset: inconsistent images, labels or classes")
        self.images = images; self.labels = labels; self.shape = shape; self.classNames = classNames
    }
}

/// Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 28x28 images of ten kinds of clothing, 60000 for training and
/// 10000 for testing, read from the IDX files of Debian's `dataset-fashion-mnist` package.
public enum FashionMNIST {
    public enum Split: String, Sendable { case train, test }

    /// Where the package installs the files; `STEPLAB_FASHION_MNIST` points elsewhere.
    public static var directory: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["STEPLAB_FASHION_MNIST"] ?? "/usr/share/datasets/fashion-mnist")
    }

    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// Both splits are read once per process: the training set is 47 MB of pixels.
    private static let cache = Mutex<[Split: ImageDataset]>([:])

    /// One split, pixels `p` mapped to `p / 127.5 - 1`.
    public static func load(_ split: Split, from directory: URL = FashionMNIST.directory) throws(DataError) -> ImageDataset {
        if directory == Self.directory, let cached = cache.withLock({ $0[split] }) { return cached }
        let prefix = split == .train ? "train" : "t10k"
        let imagesURL = directory.appendingPathComponent("\(prefix)-images-idx3-ubyte.gz")
        let labelsURL = directory.appendingPathComponent("\(prefix)-labels-idx1-ubyte.gz")
        for url in [imagesURL, labelsURL] where !FileManager.default.fileExists(atPath: url.path) {
            throw DataError("Fashion-MNIST is not installed: \(url.path) is missing (apt-get install dataset-fashion-mnist, "
                            + "or set STEPLAB_FASHION_MNIST to a folder with the IDX files)")
        }
        let images = try IDXArray.read(imagesURL), labels = try IDXArray.read(labelsURL)
        guard images.shape.count == 3, images.shape[1] == images.shape[2], labels.shape == [images.shape[0]] else {
            throw DataError("\(imagesURL.path): expected N x S x S images and N labels, got \(images.shape) and \(labels.shape)")
        }
        if let bad = labels.bytes.first(where: { $0 >= classNames.count }) {
            throw DataError("\(labelsURL.path): label \(bad) is not one of the \(classNames.count) classes")
        }
        let side = images.shape[1]
        let set = ImageDataset(images: PointSet(count: images.shape[0], dimension: side * side,
                                                values: images.bytes.map { Float($0) / 127.5 - 1 }),
                               labels: labels.bytes.map(Int.init), shape: ImageShape(height: side, width: side, channels: 1),
                               classNames: classNames)
        if directory == Self.directory { cache.withLock { $0[split] = set } }
        return set
    }
}
