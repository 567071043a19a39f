import Foundation
import OpenCLKit
import StepLabEngine

/// The safetensors file format (Hugging Face): an 8-byte little-endian header length, a JSON header mapping
/// each tensor name to {dtype, shape, data_offsets} (plus an optional `__metadata__` of strings), then the raw
/// little-endian data. StepLab stores float32 ("F32") tensors.
public enum SafeTensors {
    /// A tensor in host memory as the file holds it: its shape and its float32 values, row-major.
    public struct HostTensor: Equatable, Sendable {
        public var shape: [Int]
        public var values: [Float]
        public init(shape: [Int], values: [Float]) { self.shape = shape; self.values = values }
    }

    public struct FormatError: Error, CustomStringConvertible {
        public let description: String
        init(_ path: String, _ message: String) { description = "\(path): not a valid safetensors file: \(message)" }
    }

    /// Encodes tensors (sorted by name, as the Python library does) and string metadata.
    public static func encode(_ tensors: [String: HostTensor], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let tensor = tensors[name]!
            let bytes = tensor.values.count * 4
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces to a multiple of 8 so the data is aligned (allowed by the format).
        while (json.count + 8) % 8 != 0 { json.append(0x20) }
        var data = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(json)
        for name in names {
            tensors[name]!.values.withUnsafeBufferPointer { buffer in
                for value in buffer {
                    var bits = value.bitPattern.littleEndian
                    withUnsafeBytes(of: &bits) { data.append(contentsOf: $0) }
                }
            }
        }
        return data
    }

    /// Decodes a file's bytes; every structural problem is a one-line `FormatError` naming `path`. Only each
    /// tensor's `data_offsets` say where its bytes are: other writers order the buffer differently (Python's puts
    /// F64 before F32) and pad the header with spaces.
    public static func decode(_ data: Data, path: String) throws -> (tensors: [String: HostTensor], metadata: [String: String]) {
        // The offsets below count from 0; a slice of a larger Data starts elsewhere.
        let data = data.startIndex == 0 ? data : Data([UInt8](data))
        guard data.count >= 8 else { throw FormatError(path, "shorter than its 8-byte header length") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw FormatError(path, "header length \(headerLength) runs past the end of the file (\(data.count) bytes)")
        }
        let headerData = data.subdata(in: 8 ..< 8 + Int(headerLength))
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw FormatError(path, "the header is not a JSON object")
        }
        let body = data.subdata(in: 8 + Int(headerLength) ..< data.count)
        var tensors: [String: HostTensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let entries = value as? [String: Any] else { throw FormatError(path, "__metadata__ is not an object") }
                for (key, entry) in entries {
                    guard let text = entry as? String else { throw FormatError(path, "metadata \(key) is not a string") }
                    metadata[key] = text
                }
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw FormatError(path, "tensor \(name) lacks dtype, shape or data_offsets")
            }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F64": width = 8
            default: throw FormatError(path, "tensor \(name) has dtype \(dtype); StepLab reads F32 and F64")
            }
            // Checked arithmetic throughout: a hostile shape must give an error, not trap on overflow.
            var count: Int? = 1
            for size in shape {
                guard let product = count, size >= 0 else { count = nil; break }
                let (value, overflow) = product.multipliedReportingOverflow(by: size)
                count = overflow ? nil : value
            }
            guard let count, offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= body.count,
                  (offsets[1] - offsets[0]) % width == 0, (offsets[1] - offsets[0]) / width == count else {
                throw FormatError(path, "tensor \(name) has offsets \(offsets) that do not fit its shape \(shape) or the file")
            }
            let bytes = body.subdata(in: offsets[0] ..< offsets[1])
            let values: [Float] = bytes.withUnsafeBytes { raw in
                (0 ..< count).map { i in
                    width == 4 ? Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                        : Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                }
            }
            tensors[name] = HostTensor(shape: shape, values: values)
        }
        return (tensors, metadata)
    }

    /// Reads a file.
    public static func read(_ url: URL) throws -> (tensors: [String: HostTensor], metadata: [String: String]) {
        guard let data = try? Data(contentsOf: url) else { throw FormatError(url.path, "cannot be read") }
        return try decode(data, path: url.path)
    }

    /// Writes a file through a temporary file in the same folder and a rename, so a crash never leaves a
    /// half-written file in place of a good one.
    public static func write(_ tensors: [String: HostTensor], metadata: [String: String] = [:], to url: URL) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: url)
    }
}

extension ParameterStore {
    /// Every parameter as a safetensors tensor named `prefix + name`, read from `flat` (default: the values; pass
    /// an EMA copy for its weights).
    public func safeTensors(prefix: String = "", from flat: Tensor? = nil) throws(OpenCLError) -> [String: SafeTensors.HostTensor] {
        var tensors: [String: SafeTensors.HostTensor] = [:]
        for entry in try export(from: flat) {
            tensors[prefix + entry.name] = SafeTensors.HostTensor(shape: [entry.rows, entry.columns], values: entry.values)
        }
        return tensors
    }
}
