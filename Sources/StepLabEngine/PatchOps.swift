import OpenCLKit

/// How images are cut into patches (a DiT's tokens, `Kernels/channels.cl`): H x W pixels of C channels in HWC order
/// become (H / P) x (W / P) tokens of P x P x C values, token k = ti (W / P) + tj holding the pixels
/// (ti P + a, tj P + b) in (a, b, c) order.
public struct PatchGeometry: Sendable, Equatable {
    public var height: Int
    public var width: Int
    public var channels: Int
    public var patch: Int
    public init(height: Int, width: Int, channels: Int, patch: Int) {
        self.height = height; self.width = width; self.channels = channels; self.patch = patch
    }
    /// Tokens per image.
    public var tokens: Int { (height / patch) * (width / patch) }
    /// Values per token.
    public var tokenSize: Int { patch * patch * channels }
    /// Values per image.
    public var imageSize: Int { height * width * channels }
    /// Why images cannot be cut so, or nil.
    public var problem: String? {
        guard height > 0, width > 0, channels > 0, patch > 0 else { return "patches need positive sizes" }
        guard height % patch == 0, width % patch == 0 else { return "\(height)x\(width) images do not split into \(patch)x\(patch) patches" }
        return nil
    }
}

extension Engine {
    /// The token rows ((N T) x P P C) of `images`: N rows whose first H W C values are an image each (a network input
    /// may carry more columns after them).
    public func splitPatches(_ images: Tensor, geometry g: PatchGeometry, into tokens: Tensor) throws(OpenCLError) {
        let samples = try checkPatches(images, g, tokens)
        try launch("channels.cl", "patches_split", global: [g.tokenSize, samples * g.tokens], Int32(g.height), Int32(g.width),
                   Int32(g.channels), Int32(g.patch), Int32(images.columns), images.storage, images.kernelOffset,
                   tokens.storage, tokens.kernelOffset)
    }

    /// The inverse of `splitPatches` (and its adjoint): the images from their token rows, written or added to.
    public func joinPatches(_ tokens: Tensor, geometry g: PatchGeometry, accumulate: Bool = false, into images: Tensor) throws(OpenCLError) {
        let samples = try checkPatches(images, g, tokens)
        try launch("channels.cl", "patches_join", global: [g.tokenSize, samples * g.tokens], Int32(g.height), Int32(g.width),
                   Int32(g.channels), Int32(g.patch), Int32(images.columns), Int32(accumulate ? 1 : 0),
                   tokens.storage, tokens.kernelOffset, images.storage, images.kernelOffset)
    }

    /// The image count, or a one-line error.
    private func checkPatches(_ images: Tensor, _ g: PatchGeometry, _ tokens: Tensor) throws(OpenCLError) -> Int {
        if let problem = g.problem { throw .invalidRequest("patches: \(problem)") }
        guard images.columns >= g.imageSize, tokens.columns == g.tokenSize, tokens.rows == images.rows * g.tokens else {
            throw .invalidRequest("patches: \(images.rows)x\(images.columns) images and \(tokens.rows)x\(tokens.columns) tokens "
                                  + "do not fit \(g.height)x\(g.width)x\(g.channels) in \(g.patch)x\(g.patch) patches")
        }
        return images.rows
    }
}

extension Reference {
    /// `Engine.splitPatches` in float64 on `images` (N rows of `stride` values, the image first).
    public static func splitPatches(_ images: [Double], stride: Int, geometry g: PatchGeometry) -> [Double] {
        let samples = images.count / stride, p = g.patch
        var tokens = [Double](repeating: 0, count: samples * g.tokens * g.tokenSize)
        for n in 0 ..< samples {
            for k in 0 ..< g.tokens {
                let (ti, tj) = (k / (g.width / p), k % (g.width / p))
                for a in 0 ..< p { for b in 0 ..< p { for c in 0 ..< g.channels {
                    let pixel = ((ti * p + a) * g.width + tj * p + b) * g.channels + c
                    tokens[(n * g.tokens + k) * g.tokenSize + (a * p + b) * g.channels + c] = images[n * stride + pixel]
                } } }
            }
        }
        return tokens
    }

    /// `Engine.joinPatches` in float64: the images (N x H W C) from their token rows.
    public static func joinPatches(_ tokens: [Double], geometry g: PatchGeometry) -> [Double] {
        let samples = tokens.count / (g.tokens * g.tokenSize)
        var images = [Double](repeating: 0, count: samples * g.imageSize)
        let order = splitPatches((0 ..< samples * g.imageSize).map(Double.init), stride: g.imageSize, geometry: g)
        for (i, source) in order.enumerated() { images[Int(source)] = tokens[i] }
        return images
    }
}
