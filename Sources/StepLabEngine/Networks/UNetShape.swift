import Foundation

/// What a U-Net run records about its network and images (config.json's `unet`).
public struct UNetShape: Sendable, Equatable, Codable {
    /// The images: H x W pixels of `imageChannels` channels, one sample a row of H * W * c values in HWC order.
    public var height: Int
    public var width: Int
    public var imageChannels: Int
    /// C: level l has C * channelMult[l] channels.
    public var channels: Int
    public var channelMult: [Int]
    public var blocksPerLevel: Int
    /// GroupNorm groups (every level's channels, and every concatenation's, must be a multiple).
    public var groups: Int
    /// Self-attention heads between the two middle blocks (ADM's middle AttentionBlock); 0: none (every run before
    /// attention existed).
    public var attentionHeads: Int

    public init(height: Int, width: Int, imageChannels: Int, channels: Int = 32, channelMult: [Int] = [1, 2, 2],
                blocksPerLevel: Int = 1, groups: Int = 8, attentionHeads: Int = 0) {
        self.height = height; self.width = width; self.imageChannels = imageChannels; self.channels = channels
        self.channelMult = channelMult; self.blocksPerLevel = blocksPerLevel; self.groups = groups
        self.attentionHeads = attentionHeads
    }

    enum CodingKeys: String, CodingKey {
        case height, width, imageChannels, channels, channelMult, blocksPerLevel, groups, attentionHeads
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(height: try c.decode(Int.self, forKey: .height), width: try c.decode(Int.self, forKey: .width),
                  imageChannels: try c.decode(Int.self, forKey: .imageChannels), channels: try c.decode(Int.self, forKey: .channels),
                  channelMult: try c.decode([Int].self, forKey: .channelMult), blocksPerLevel: try c.decode(Int.self, forKey: .blocksPerLevel),
                  groups: try c.decode(Int.self, forKey: .groups),
                  attentionHeads: try c.decodeIfPresent(Int.self, forKey: .attentionHeads) ?? 0)
    }

    /// Heads of `--attention` at the lowest level: one per 32 channels (ADM's 64x64 models use 64 per head; a
    /// 7x7 level of 64 channels gets 2).
    public static func attentionHeads(channels: Int) -> Int { Swift.max(1, channels / 32) }

    /// Values per sample.
    public var dimension: Int { height * width * imageChannels }
    /// Channels of level l.
    public func levelChannels(_ level: Int) -> Int { channels * channelMult[level] }

    /// Why this shape cannot be built, or nil.
    public var problem: String? {
        let levels = channelMult.count
        if height <= 0 || width <= 0 || imageChannels <= 0 { return "images must have positive sizes" }
        if channels <= 0 || levels == 0 || channelMult.contains(where: { $0 <= 0 }) || blocksPerLevel <= 0 || groups <= 0 {
            return "--channels, --channel-mult, --blocks-per-level and the groups must be positive"
        }
        let factor = 1 << (levels - 1)
        if height % factor != 0 || width % factor != 0 {
            return "\(height)x\(width) images cannot be halved \(levels - 1) times (--channel-mult has \(levels) levels)"
        }
        if let c = channelMult.map({ channels * $0 }).first(where: { $0 % groups != 0 }) {
            return "\(c) channels are not a multiple of \(groups) GroupNorm groups"
        }
        if attentionHeads < 0 || (attentionHeads > 0 && levelChannels(levels - 1) % attentionHeads != 0) {
            return "\(levelChannels(levels - 1)) channels at the lowest level do not split into \(attentionHeads) attention heads"
        }
        return nil
    }

    /// Parses `--channel-mult` ("1,2,2").
    public static func channelMult(parsing text: String) -> [Int]? {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return values.compactMap { $0 }
    }

    /// `unet 32x[1,2,2], 1 block per level`, for logs and errors.
    public var summary: String {
        "unet \(channels)x[\(channelMult.map(String.init).joined(separator: ","))], \(blocksPerLevel) block\(blocksPerLevel == 1 ? "" : "s") per level"
            + (attentionHeads > 0 ? ", attention (\(attentionHeads) head\(attentionHeads == 1 ? "" : "s"))" : "")
    }
}
