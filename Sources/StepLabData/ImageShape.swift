/// The geometry of an image data set. Every image is one row of `height * width * channels` values in NHWC order
/// (a pixel's channels adjacent), the layout the U-Net reads, with values in [-1, 1].
public struct ImageShape: Sendable, Equatable, Codable, CustomStringConvertible {
    public var height: Int
    public var width: Int
    /// 1 (grey) or 3 (RGB).
    public var channels: Int

    public init(height: Int, width: Int, channels: Int) {
        self.height = height; self.width = width; self.channels = channels
    }

    /// Values per image.
    public var pixels: Int { height * width * channels }

    /// `HxWxC`, as the CLI prints it.
    public var description: String { "\(height)x\(width)x\(channels)" }
}
