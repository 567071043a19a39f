import CZlib
import Foundation

/// gzip decompression (the IDX files of the data-set packages ship gzipped) and zlib compression (PNG's image
/// data) through the system zlib.
enum Gzip {
    /// `bytes` as one zlib (RFC 1950) stream at the best compression.
    static func zlibCompressed(_ bytes: [UInt8]) -> [UInt8] {
        var length = compressBound(uLong(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(length))
        let status = output.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { input in compress2(out.baseAddress, &length, input.baseAddress, uLong(bytes.count), 9) }
        }
        // compressBound is enough by definition, and the buffers are ours: a failure is a broken zlib.
        precondition(status == Z_OK, "zlib compress2 failed with status \(status)")
        return Array(output.prefix(Int(length)))
    }

    /// The bytes of one zlib stream that inflates to exactly `count` bytes; nil when it does not.
    static func zlibDecompressed(_ bytes: [UInt8], count: Int) -> [UInt8]? {
        var length = uLong(count)
        var output = [UInt8](repeating: 0, count: count)
        let status = output.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { input in uncompress(out.baseAddress, &length, input.baseAddress, uLong(bytes.count)) }
        }
        return status == Z_OK && Int(length) == count ? output : nil
    }

    /// The decompressed bytes of a gzip (RFC 1952) stream; `name` labels errors.
    static func decompress(_ compressed: Data, name: String) throws(DataError) -> Data {
        var stream = z_stream()
        // 15 + 16: the largest window, and expect a gzip header and trailer rather than a zlib one.
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError("\(name): zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var status: Int32 = Z_OK
        var input = compressed
        input.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            stream.next_in = raw.bindMemory(to: Bytef.self).baseAddress
            stream.avail_in = uInt(raw.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { buffer in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = uInt(buffer.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    output.append(buffer.baseAddress!, count: buffer.count - Int(stream.avail_out))
                }
            } while status == Z_OK
        }
        guard status == Z_STREAM_END else {
            let reason = status == Z_BUF_ERROR ? "the file ends early" : "corrupt gzip data (zlib status \(status))"
            throw DataError("\(name): \(reason)")
        }
        return output
    }
}
