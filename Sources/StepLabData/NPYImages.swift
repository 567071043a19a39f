import Foundation

/// Images in an NPY array: `(n, h, w)` grey, `(n, h, w, c)` or `(n, c, h, w)` with c = 1 or 3 (a last axis of 1 or 3
/// reads as channels first), uint8 or float. They load NHWC (`ImageShape`) with values scaled to [-1, 1]: uint8
/// `p / 127.5 - 1`; float arrays by their range, [0, 1] as `2p - 1`, [-1, 1] as they are, [0, 255] as uint8.
public enum NPYImages {
    /// Whether the NPY file at `url` holds images (3 or 4 dimensions) rather than points (2); reads its header only.
    public static func holdsImages(_ url: URL) -> Bool {
        guard url.pathExtension.lowercased() == "npy", let shape = try? NPYArray.shape(of: url) else { return false }
        return shape.count == 3 || shape.count == 4
    }

    /// The images in the NPY file at `url`, one per row of `images`.
    public static func read(from url: URL) throws(DataError) -> (images: PointSet, shape: ImageShape) {
        var layout: (shape: ImageShape, channelsFirst: Bool)?
        let array = try NPYArray.read(from: url) { dimensions, _ throws(DataError) in
            layout = try Self.layout(of: dimensions, file: url.path)
        }
        guard let (shape, channelsFirst) = layout else { throw DataError("\(url.path): no image layout") }
        let count = array.shape[0]
        let scale = try Self.scaling(array, file: url.path)
        var values = [Float](repeating: 0, count: array.values.count)
        let (h, w, c) = (shape.height, shape.width, shape.channels)
        for n in 0 ..< count {
            for y in 0 ..< h {
                for x in 0 ..< w {
                    for k in 0 ..< c {
                        let source = channelsFirst ? ((n * c + k) * h + y) * w + x : ((n * h + y) * w + x) * c + k
                        values[((n * h + y) * w + x) * c + k] = scale(array.values[source])
                    }
                }
            }
        }
        return (PointSet(count: count, dimension: shape.pixels, values: values), shape)
    }

    /// The image shape of an array of `dimensions`, and whether its channels come before the rows.
    static func layout(of dimensions: [Int], file: String) throws(DataError) -> (ImageShape, Bool) {
        let described = NPY.describe(dimensions)
        switch dimensions.count {
        case 3:
            return (ImageShape(height: dimensions[1], width: dimensions[2], channels: 1), false)
        case 4 where [1, 3].contains(dimensions[3]):
            return (ImageShape(height: dimensions[1], width: dimensions[2], channels: dimensions[3]), false)
        case 4 where [1, 3].contains(dimensions[1]):
            return (ImageShape(height: dimensions[2], width: dimensions[3], channels: dimensions[1]), true)
        case 4:
            throw DataError("\(file): images of shape \(described) have neither 1 nor 3 channels (expected (n, h, w, c) or (n, c, h, w), c = 1 or 3)")
        default:
            throw DataError("\(file): shape \(described) is not an image array (expected (n, h, w), (n, h, w, c) or (n, c, h, w))")
        }
    }

    /// The map of the array's values to [-1, 1], chosen by its dtype and range.
    static func scaling(_ array: NPYArray, file: String) throws(DataError) -> (Float) -> Float {
        if array.isBytes { return { $0 / 127.5 - 1 } }
        let low = array.values.min() ?? 0, high = array.values.max() ?? 0
        if low >= 0 && high <= 1 { return { 2 * $0 - 1 } }
        if low >= -1 && high <= 1 { return { $0 } }
        if low >= 0 && high <= 255 { return { $0 / 127.5 - 1 } }
        throw DataError("\(file): float pixels span [\(low), \(high)]; expected [0, 1], [-1, 1] or [0, 255]")
    }
}
