import Foundation
import StepLabTestSupport
import Testing
import StepLabData

/// Image arrays in NPY files: layouts, dtypes, scaling to [-1, 1], and the one-line refusals.
@Suite struct NPYImageTests {
    static func header(_ descr: String, _ shape: String) -> String {
        "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
    }

    static func read(_ data: Data) throws -> (images: PointSet, shape: ImageShape) {
        try withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("images.npy")
            try data.write(to: url)
            #expect(NPYImages.holdsImages(url))
            return try NPYImages.read(from: url)
        }
    }

    @Test func uint8GreyImagesScaleToPlusMinusOne() throws {
        let (images, shape) = try Self.read(NPYFileTests.npy(Self.header("|u1", "(2, 1, 3)"), payload: [0, 255, 51, 102, 153, 204]))
        #expect(shape == ImageShape(height: 1, width: 3, channels: 1))
        #expect(images.count == 2 && images.dimension == 3)
        #expect(images.values == [0, 255, 51, 102, 153, 204].map { Float($0) / 127.5 - 1 })
    }

    /// (n, c, h, w) is transposed to NHWC; (n, h, w, c) is kept; the float range picks the scaling.
    @Test func channelsFirstAndLastLoadAsNHWC() throws {
        // One 3-channel 2x2 image, channels first: channel k at pixel (y, x) holds (k * 4 + y * 2 + x) / 12.
        let planar = (0 ..< 12).map { Float($0) / 12 }
        let (first, shape) = try Self.read(NPYFileTests.npy(Self.header("<f4", "(1, 3, 2, 2)"), payload: NPYFileTests.float32Bytes(planar)))
        #expect(shape == ImageShape(height: 2, width: 2, channels: 3))
        let expected = (0 ..< 4).flatMap { pixel in (0 ..< 3).map { k in 2 * planar[k * 4 + pixel] - 1 } }
        #expect(first.values == expected)
        // The same values channels last, already in [-1, 1]: read as they are.
        let interleaved = expected
        let (last, lastShape) = try Self.read(NPYFileTests.npy(Self.header("<f4", "(1, 2, 2, 3)"), payload: NPYFileTests.float32Bytes(interleaved)))
        #expect(lastShape == shape && last.values == interleaved)
        // float64 in [0, 255] reads like uint8.
        let (wide, _) = try Self.read(NPYFileTests.npy(Self.header("<f8", "(1, 2, 2)"), payload: NPYFileTests.float64Bytes([0, 127.5, 200, 255])))
        #expect(wide.values == [-1, 0, Float(200 / 127.5 - 1), 1])
    }

    @Test func badImageArraysGetOneLine() throws {
        expectDataError("neither 1 nor 3 channels", "(1, 2, 2, 2)") {
            _ = try Self.read(NPYFileTests.npy(Self.header("<f4", "(1, 2, 2, 2)"), payload: NPYFileTests.float32Bytes(Array(repeating: 0, count: 8))))
        }
        expectDataError("float pixels span [-3.0, 1.0]") {
            _ = try Self.read(NPYFileTests.npy(Self.header("<f4", "(1, 1, 2)"), payload: NPYFileTests.float32Bytes([-3, 1])))
        }
        expectDataError("unsupported dtype '<i2'") {
            _ = try Self.read(NPYFileTests.npy(Self.header("<i2", "(1, 1, 2)"), payload: [0, 0, 0, 0]))
        }
        expectDataError("truncated data") { _ = try Self.read(NPYFileTests.npy(Self.header("|u1", "(2, 2, 2)"), payload: [1, 2, 3])) }
        try withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("five.npy")
            try NPYFileTests.npy(Self.header("|u1", "(1, 1, 1, 1, 1)"), payload: [0]).write(to: url)
            #expect(!NPYImages.holdsImages(url))
            _ = expectDataError("(1, 1, 1, 1, 1) is not an image array") { _ = try NPYImages.read(from: url) }
            // uint8 points are refused with the hint that uint8 means images.
            let points = directory.appendingPathComponent("bytes.npy")
            try NPYFileTests.npy(Self.header("|u1", "(2, 2)"), payload: [1, 2, 3, 4]).write(to: points)
            _ = expectDataError("unsupported dtype '|u1' for points") { _ = try PointSet.read(from: points) }
        }
    }

    /// Files numpy wrote: uint8 RGB channels last and float32 grey, as a user saves them.
    @Test(.enabled(if: NumPy.available)) func readsWhatNumPyWrites() throws {
        try withTemporaryDirectory { directory in
            try NumPy.run("""
                import numpy as np
                rgb = (np.arange(2 * 3 * 4 * 3) % 256).astype(np.uint8).reshape(2, 3, 4, 3)
                np.save('rgb.npy', rgb)
                np.save('grey.npy', np.linspace(0, 1, 2 * 5 * 5, dtype=np.float32).reshape(2, 5, 5))
                """, in: directory)
            let (rgb, rgbShape) = try NPYImages.read(from: directory.appendingPathComponent("rgb.npy"))
            #expect(rgbShape == ImageShape(height: 3, width: 4, channels: 3) && rgb.count == 2)
            let expected: [Float] = (0 ..< 72).map { (i: Int) -> Float in Float(i % 256) / 127.5 - 1 }
            #expect(rgb.values == expected)
            let (grey, greyShape) = try NPYImages.read(from: directory.appendingPathComponent("grey.npy"))
            #expect(greyShape == ImageShape(height: 5, width: 5, channels: 1) && grey.values.first == -1 && grey.values.last == 1)
        }
    }
}

/// The random-feature FD separates image distributions: it grows with the noise added to the images.
@Suite struct RandomImageFeaturesTests {
    @Test func frechetDistanceGrowsWithNoise() throws {
        let shape = ImageShape(height: 12, width: 10, channels: 3)
        // Smooth images: a per-image random colour gradient.
        var random = SplitMix(seed: 3)
        func images(count: Int, noise: Float) -> PointSet {
            var values: [Float] = []
            for _ in 0 ..< count {
                let (a, b, c) = (random.uniform(), random.uniform(), random.uniform())
                for y in 0 ..< shape.height {
                    for x in 0 ..< shape.width {
                        for k in 0 ..< 3 {
                            let base = [a, b, c][k] * Float(x) / 10 - Float(y) / 12 * [c, a, b][k]
                            values.append(Swift.min(1, Swift.max(-1, base + noise * (2 * random.uniform() - 1))))
                        }
                    }
                }
            }
            return PointSet(count: count, dimension: shape.pixels, values: values)
        }
        let features = RandomImageFeatures(shape: shape)
        let reference = try FeatureStatistics.Moments(features.features(images(count: 400, noise: 0)))
        let distances = try [0, 0.2, 0.6].map { noise in
            try FrechetReference(reference).distance(to: FeatureStatistics.Moments(features.features(images(count: 400, noise: Float(noise)))))
        }
        #expect(distances[0] < distances[1] && distances[1] < distances[2], "\(distances)")
        #expect(distances[2] > 10 * distances[0], "\(distances)")
        #expect(features.features(images(count: 2, noise: 0)).dimension == RandomImageFeatures.dimension)
        // Seeded: the same seed gives the same features.
        let one = images(count: 3, noise: 0.1)
        #expect(RandomImageFeatures(shape: shape).features(one) == features.features(one))
    }
}

/// A small seeded generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func uniform() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Float((z ^ (z >> 31)) >> 40) / Float(1 << 24)
    }
}
