import Foundation
import StepLabTestSupport
import Testing
@testable import StepLabData

@Suite struct PNGImageTests {
    /// The scanlines of a PNG written by `encoded()`, inflated by zlib (which checks the stream's Adler-32).
    static func decode(_ data: Data) throws -> (width: Int, height: Int, raw: [UInt8]) {
        let bytes = [UInt8](data)
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var offset = 8, width = 0, height = 0, idat: [UInt8] = []
        func be(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
        while offset < bytes.count {
            let length = be(offset), type = String(decoding: bytes[offset + 4 ..< offset + 8], as: UTF8.self)
            let body = Array(bytes[offset + 8 ..< offset + 8 + length])
            #expect(UInt32(be(offset + 8 + length)) == PNGImage.crc32(Array(bytes[offset + 4 ..< offset + 8 + length])), "\(type) CRC")
            if type == "IHDR" { width = be(offset + 8); height = be(offset + 12); #expect(body[8] == 8 && body[9] == 2) }
            if type == "IDAT" { idat += body }
            offset += 12 + length
        }
        let raw = try #require(Gzip.zlibDecompressed(idat, count: height * (1 + 3 * width)))
        return (width, height, raw)
    }

    @Test func encodesAValidPNGWithTheExactPixels() throws {
        var image = PNGImage(width: 300, height: 250)
        image.dot(x: 10, y: 20, radius: 0, color: (1, 2, 3))
        image.dot(x: -5, y: 500, radius: 2, color: (9, 9, 9))  // entirely outside: ignored
        let (width, height, raw) = try Self.decode(image.encoded())
        #expect(width == 300 && height == 250)
        #expect(raw.count == 250 * (1 + 900))
        let row = 20 * (1 + 900)
        #expect(raw[row] == 0 && Array(raw[row + 1 + 30 ..< row + 1 + 33]) == [1, 2, 3])
        #expect(Array(raw[row + 1 + 33 ..< row + 1 + 36]) == [255, 255, 255])
        #expect(image.encoded().count < 10_000, "a white image compresses")
    }

    @Test func crcMatchesTheStandardCheckValue() {
        #expect(PNGImage.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}
