import StepLabEngine

/// Image features for data without a trained feature network: a fixed convolutional network with seeded random
/// weights. Two 3x3 stride-2 convolutions (C -> 32 -> 64 channels, zero padding 1, ReLU, He-normal weights, no
/// bias), then the mean of each channel over the four quadrants of the last map: 256 features that keep the
/// coarse layout. Random convolutional features separate image distributions usefully (their FD grows with added
/// noise; tested), but they are no Inception: compare FDs only on the same reference and shape. The convolutions
/// are `Reference.conv2d`, in float64 on the host, as the other metrics are.
public struct RandomImageFeatures: Sendable {
    public let shape: ImageShape
    public static let channels = (32, 64)
    /// 4 quadrants x 64 channels.
    public static let dimension = 4 * channels.1
    /// (kh, kw, cin) x cout, row-major (`Reference.conv2d`'s layout).
    let weight1: [Double], weight2: [Double]

    public init(shape: ImageShape, seed: UInt64 = 0) {
        self.shape = shape
        var random = HostRandom(seed: seed)
        func heNormal(fanIn: Int, count: Int) -> [Double] {
            (0 ..< count).map { _ in random.gaussian() * (2 / Double(fanIn)).squareRoot() }
        }
        weight1 = heNormal(fanIn: 9 * shape.channels, count: 9 * shape.channels * Self.channels.0)
        weight2 = heNormal(fanIn: 9 * Self.channels.0, count: 9 * Self.channels.0 * Self.channels.1)
    }

    /// The features of `images` (rows in `shape`'s NHWC order), `count x dimension`.
    public func features(_ images: PointSet) -> PointSet {
        precondition(images.dimension == shape.pixels, "RandomImageFeatures: \(images.dimension) values are not images of \(shape)")
        let rows = parallelMap(images.count) { n in self.features(of: images[point: n].map(Double.init)) }
        return PointSet(count: images.count, dimension: Self.dimension, values: rows.flatMap { $0 })
    }

    func features(of image: [Double]) -> [Float] {
        let g1 = ConvolutionGeometry(height: shape.height, width: shape.width, inputChannels: shape.channels,
                                     outputChannels: Self.channels.0, stride: 2)
        let g2 = ConvolutionGeometry(height: g1.outputHeight, width: g1.outputWidth, inputChannels: Self.channels.0,
                                     outputChannels: Self.channels.1, stride: 2)
        func convolveReLU(_ x: [Double], _ g: ConvolutionGeometry, _ weight: [Double]) -> [Double] {
            Reference.conv2d(x, samples: 1, geometry: g, weight: weight, bias: [Double](repeating: 0, count: g.outputChannels))
                .map { Swift.max(0, $0) }
        }
        let second = convolveReLU(convolveReLU(image, g1, weight1), g2, weight2)
        let (h2, w2) = (g2.outputHeight, g2.outputWidth)
        // Quadrants overlap on the middle row or column of an odd map, and a map one pixel wide is both halves.
        let rowHalves = [0 ..< (h2 + 1) / 2, h2 / 2 ..< h2], columnHalves = [0 ..< (w2 + 1) / 2, w2 / 2 ..< w2]
        var result: [Float] = []
        result.reserveCapacity(Self.dimension)
        for rowsRange in rowHalves {
            for columnsRange in columnHalves {
                var sums = [Double](repeating: 0, count: Self.channels.1)
                for y in rowsRange {
                    for x in columnsRange {
                        for k in 0 ..< Self.channels.1 { sums[k] += second[(y * w2 + x) * Self.channels.1 + k] }
                    }
                }
                let area = Double(rowsRange.count * columnsRange.count)
                result += sums.map { Float($0 / area) }
            }
        }
        return result
    }
}
