import Foundation

/// An 8-bit RGB image and a dependency-free PNG encoder (stored deflate blocks: larger files than zlib's
/// compression would give, but no library and no external tool).
public struct PNGImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Row-major RGB bytes.
    public var pixels: [UInt8]

    /// A `width x height` image filled with `background`.
    public init(width: Int, height: Int, background: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        self.width = width
        self.height = height
        pixels = (0 ..< width * height).flatMap { _ in [background.0, background.1, background.2] }
    }

    /// Paints a filled square of side `2 radius + 1` centred on (x, y), clipped to the image.
    public mutating func dot(x: Int, y: Int, radius: Int = 1, color: (UInt8, UInt8, UInt8)) {
        let (x0, x1) = (Swift.max(0, x - radius), Swift.min(width - 1, x + radius))
        let (y0, y1) = (Swift.max(0, y - radius), Swift.min(height - 1, y + radius))
        guard x0 <= x1, y0 <= y1 else { return }
        for py in y0 ... y1 {
            for px in x0 ... x1 {
                let i = 3 * (py * width + px)
                pixels[i] = color.0; pixels[i + 1] = color.1; pixels[i + 2] = color.2
            }
        }
    }

    /// The PNG file bytes.
    public func encoded() -> Data {
        var raw: [UInt8] = []
        raw.reserveCapacity(height * (1 + 3 * width))
        for row in 0 ..< height {
            raw.append(0)  // filter type 0 (none) per scanline
            raw.append(contentsOf: pixels[(3 * row * width) ..< (3 * (row + 1) * width)])
        }
        let zlib = Gzip.zlibCompressed(raw)
        var data = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let header = Self.bigEndian(UInt32(width)) + Self.bigEndian(UInt32(height)) + [8, 2, 0, 0, 0]
        data.append(contentsOf: Self.chunk("IHDR", header))
        data.append(contentsOf: Self.chunk("IDAT", zlib))
        data.append(contentsOf: Self.chunk("IEND", []))
        return data
    }

    static func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + body
        return bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)] }

    static let crcTable: [UInt32] = (0 ..< 256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 as PNG and zlib define it.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }


    /// A scatter plot of 2-D `points` (blue) over `reference` (grey), framed to both.
    public static func scatter(points: PointSet, reference: PointSet?, size: Int = 512) -> PNGImage {
        var image = PNGImage(width: size, height: size)
        let all = (reference?.values ?? []) + points.values
        let finite = all.filter(\.isFinite).sorted()
        guard points.dimension == 2, !finite.isEmpty else { return image }
        let lo = Double(finite[finite.count / 500]), hi = Double(finite[finite.count - 1 - finite.count / 500])
        let pad = 0.05 * Swift.max(hi - lo, 1e-6)
        func pixel(_ v: Float) -> Int { Int((Double(v) - lo + pad) / (hi - lo + 2 * pad) * Double(size - 1)) }
        for (set, color, radius) in [(reference, (190 as UInt8, 190 as UInt8, 190 as UInt8), 1), (points, (31 as UInt8, 119 as UInt8, 180 as UInt8), 1)] {
            guard let set else { continue }
            for i in 0 ..< set.count where set.values[2 * i].isFinite && set.values[2 * i + 1].isFinite {
                image.dot(x: pixel(set.values[2 * i]), y: size - 1 - pixel(set.values[2 * i + 1]), radius: radius, color: color)
            }
        }
        return image
    }
}
