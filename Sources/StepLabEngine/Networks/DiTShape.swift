import Foundation

/// What a DiT run records about its network and images (config.json's `dit`); the width and depth are the run's
/// `width` and `blocks`.
public struct DiTShape: Sendable, Equatable, Codable {
    /// The images: H x W pixels of `imageChannels` channels, one sample a row of H * W * c values in HWC order.
    public var height: Int
    public var width: Int
    public var imageChannels: Int
    /// P: tokens are P x P patches.
    public var patch: Int
    /// Attention heads per block.
    public var heads: Int

    public init(height: Int, width: Int, imageChannels: Int, patch: Int = 4, heads: Int = 2) {
        self.height = height; self.width = width; self.imageChannels = imageChannels; self.patch = patch; self.heads = heads
    }

    /// Heads for a width: one per 64 channels (DiT's), at least one.
    public static func heads(width: Int) -> Int { Swift.max(1, width / 64) }

    /// Values per sample.
    public var dimension: Int { height * width * imageChannels }
    public var patches: PatchGeometry { PatchGeometry(height: height, width: width, channels: imageChannels, patch: patch) }

    /// Why a DiT of this shape and `modelWidth` D cannot be built, or nil.
    public func problem(modelWidth: Int) -> String? {
        if let problem = patches.problem { return problem }
        if heads <= 0 || modelWidth <= 0 || modelWidth % 4 != 0 { return "the width must be a positive multiple of 4 (got \(modelWidth))" }
        if modelWidth % heads != 0 { return "the width \(modelWidth) is not a multiple of \(heads) heads" }
        return nil
    }

    /// "dit 4x4 patches, 2 heads" for logs.
    public var summary: String { "dit \(patch)x\(patch) patches, \(heads) heads" }
}
