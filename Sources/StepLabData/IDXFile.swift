import Foundation

/// An unsigned-byte IDX array (LeCun's MNIST format, also Fashion-MNIST's): a big-endian magic number
/// `0x0000_08NN` (0x08 = unsigned byte, NN = number of dimensions), NN big-endian 32-bit sizes, then the bytes.
struct IDXArray {
    let shape: [Int]
    let bytes: [UInt8]

    /// Reads `url`, gunzipping it when its name ends in `.gz`.
    static func read(_ url: URL) throws(DataError) -> IDXArray {
        let raw: Data
        do { raw = try Data(contentsOf: url) } catch { throw DataError("\(url.path): cannot read: \(error.localizedDescription)") }
        let data = url.pathExtension == "gz" ? try Gzip.decompress(raw, name: url.path) : raw
        return try parse(data, name: url.path)
    }

    static func parse(_ data: Data, name: String) throws(DataError) -> IDXArray {
        let bytes = [UInt8](data)
        func word(_ at: Int) -> Int { bytes[at ..< at + 4].reduce(0) { $0 << 8 | Int($1) } }
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0 else { throw DataError("\(name): not an IDX file (bad magic number)") }
        guard bytes[2] == 0x08 else { throw DataError("\(name): IDX element type 0x\(String(bytes[2], radix: 16)) is not unsigned byte") }
        let rank = Int(bytes[3])
        guard rank >= 1, bytes.count >= 4 + 4 * rank else { throw DataError("\(name): IDX header is truncated") }
        let shape = (0 ..< rank).map { word(4 + 4 * $0) }
        let body = 4 + 4 * rank
        let count = shape.reduce(1, *)
        guard bytes.count - body == count else {
            throw DataError("\(name): IDX shape \(shape.map(String.init).joined(separator: "x")) needs \(count) bytes, the file has \(bytes.count - body)")
        }
        return IDXArray(shape: shape, bytes: Array(bytes[body...]))
    }
}
