import CZlib
import Foundation

/// gzip decompression through the system zlib (the IDX files of the data-set packages ship gzipped).
enum Gzip {
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
