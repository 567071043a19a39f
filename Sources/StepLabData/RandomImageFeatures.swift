import StepLabEngine

/// Image features for data without a trained feature network: a fixed convolutional network with seeded random
/// weights. Two 3x3 stride-2 convolutions (C -> 32 -> 64 channels, zero padding 1, ReLU, He-normal weights, no
/// bias), then the mean of each channel over the four quadrants of the last map: 256 features that keep the
/// coarse layout. Random convolutional features separate image distributions usefully (their FD grows with noise,
/// blur and mode dropping; tested), but they are no Inception: compare FDs only on the same reference and shape.
public struct RandomImageFeatures: Sendable {
    public let shape: ImageShape
    public static let channels = (32, 64)
    /// 4 quadrants x 64 channels.
    public static let dimension = 4 * channels.1
    /// (kh, kw, cin) x cout, row-major.
    let weight1: [Float], weight2: [Float]

    public init(shape: ImageShape, seed: UInt64 = 0) {
        self.shape = shape
        var random = HostRandom(seed: seed)
        func heNormal(fanIn: Int, count: Int) -> [Float] {
            (0 ..< count).map { _ in Float(random.gaussian() * (2 / Double(fanIn)).squareRoot()) }
        }
        weight1 = heNormal(fanIn: 9 * shape.channels, count: 9 * shape.channels * Self.channels.0)
        weight2 = heNormal(fanIn: 9 * Self.channels.0, count: 9 * Self.channels.0 * Self.channels.1)
    }

    /// The features of `images` (rows in `shape`'s NHWC order), `count x dimension`.
    public func features(_ images: PointSet) -> PointSet {
        precondition(images.dimension == shape.pixels, "RandomImageFeatures: \(images.dimension) values are not images of \(shape)")
        let rows = parallelMap(images.count) { n in self.features(of: Array(images[point: n])) }
        return PointSet(count: images.count, dimension: Self.dimension, values: rows.flatMap { $0 })
    }

    func features(of image: [Float]) -> [Float] {
        let (h1, w1, first) = Self.convolveReLU(image, height: shape.height, width: shape.width, channels: shape.channels,
                                                weight: weight1, outputs: Self.channels.0)
        let (h2, w2, second) = Self.convolveReLU(first, height: h1, width: w1, channels: Self.channels.0,
                                                 weight: weight2, outputs: Self.channels.1)
        // Quadrants overlap on the middle row or column of an odd map, and a map one pixel wide is both halves.
        let rowHalves = [0 ..< (h2 + 1) / 2, h2 / 2 ..< h2], columnHalves = [0 ..< (w2 + 1) / 2, w2 / 2 ..< w2]
        var result: [Float] = []
        result.reserveCapacity(Self.dimension)
        for rowsRange in rowHalves {
            for columnsRange in columnHalves {
                var sums = [Float](repeating: 0, count: Self.channels.1)
                for y in rowsRange {
                    for x in columnsRange {
                        for k in 0 ..< Self.channels.1 { sums[k] += second[(y * w2 + x) * Self.channels.1 + k] }
                    }
                }
                let area = Float(rowsRange.count * columnsRange.count)
                result += sums.map { $0 / area }
            }
        }
        return result
    }

    /// ReLU(3x3 stride-2 convolution, zero padding 1) of one HWC image.
    static func convolveReLU(_ x: [Float], height: Int, width: Int, channels: Int, weight: [Float],
                             outputs: Int) -> (Int, Int, [Float]) {
        let (ho, wo) = ((height + 1) / 2, (width + 1) / 2)
        var y = [Float](repeating: 0, count: ho * wo * outputs)
        for oy in 0 ..< ho {
            for ox in 0 ..< wo {
                let out = (oy * wo + ox) * outputs
                for ky in 0 ..< 3 {
                    let iy = 2 * oy + ky - 1
                    guard iy >= 0 && iy < height else { continue }
                    for kx in 0 ..< 3 {
                        let ix = 2 * ox + kx - 1
                        guard ix >= 0 && ix < width else { continue }
                        for c in 0 ..< channels {
                            let value = x[(iy * width + ix) * channels + c]
                            let row = ((ky * 3 + kx) * channels + c) * outputs
                            for k in 0 ..< outputs { y[out + k] += value * weight[row + k] }
                        }
                    }
                }
                for k in 0 ..< outputs { y[out + k] = Swift.max(0, y[out + k]) }
            }
        }
        return (ho, wo, y)
    }
}
