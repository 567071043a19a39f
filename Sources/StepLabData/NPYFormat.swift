import Foundation

/// NPY (numpy's `np.save` format, versions 1.0, 2.0 and 3.0): the magic `\x93NUMPY`, a version, a header length
/// (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), a Python dict literal with `descr`, `fortran_order`
/// and `shape`, then the raw data. StepLab reads C-order arrays of little-endian float32 (`<f4`), float64 (`<f8`)
/// or uint8 (`|u1`), and writes `<f4`.
public struct NPYArray: Sendable {
    /// The array's dimensions, outermost first.
    public let shape: [Int]
    /// The dtype as the header spells it.
    public let descr: String
    /// The elements in C order, converted to Float (exact for uint8 and float32).
    public let values: [Float]

    /// Whether the elements are uint8.
    public var isBytes: Bool { descr == "|u1" || descr == "<u1" }

    /// The array in the NPY file at `url`; every float element must be finite. `check` sees the shape and dtype
    /// before the data is read, and throws to refuse them.
    public static func read(from url: URL,
                            check: (_ shape: [Int], _ descr: String) throws(DataError) -> Void = { _, _ in }) throws(DataError) -> NPYArray {
        let bytes = [UInt8](try DataFile.contents(of: url))
        let name = url.path
        let (header, dataStart) = try NPY.header(of: bytes, file: name)
        let itemSize: Int
        switch header.descr {
        case "<f4": itemSize = 4
        case "<f8": itemSize = 8
        case "|u1", "<u1": itemSize = 1
        default:
            throw DataError("\(name): unsupported dtype '\(header.descr)' (StepLab reads little-endian float32 '<f4', float64 '<f8' and uint8 '|u1')")
        }
        guard !header.fortranOrder else {
            throw DataError("\(name): fortran_order is True; save a C-order array (np.ascontiguousarray)")
        }
        try check(header.shape, header.descr)
        guard !header.shape.isEmpty, header.shape.allSatisfy({ $0 > 0 }) else {
            throw DataError("\(name): empty array of shape \(NPY.describe(header.shape))")
        }
        var elements = 1, overflow = false
        for size in header.shape {
            let product = elements.multipliedReportingOverflow(by: size)
            elements = product.partialValue; overflow = overflow || product.overflow
        }
        let needed = elements.multipliedReportingOverflow(by: itemSize)
        guard !overflow, !needed.overflow, bytes.count - dataStart >= needed.partialValue else {
            throw DataError("\(name): truncated data: shape \(NPY.describe(header.shape)) of \(header.descr) needs \(overflow || needed.overflow ? "more than \(Int.max)" : "\(needed.partialValue)") bytes, the file holds \(bytes.count - dataStart)")
        }
        var values = [Float](repeating: 0, count: elements)
        for k in values.indices {
            let at = dataStart + k * itemSize
            let value: Float
            switch itemSize {
            case 1: value = Float(bytes[at])
            case 4: value = Float(bitPattern: NPY.littleEndianWord(bytes, at, UInt32.self))
            default: value = Float(Double(bitPattern: NPY.littleEndianWord(bytes, at, UInt64.self)))
            }
            guard value.isFinite else {
                throw DataError("\(name): value at \(NPY.position(k, shape: header.shape)) (0-based) is not finite (NaN and Inf, or values beyond float32, are not allowed)")
            }
            values[k] = value
        }
        return NPYArray(shape: header.shape, descr: header.descr, values: values)
    }

    /// The shape in the header of the NPY file at `url`, without reading its data.
    public static func shape(of url: URL) throws(DataError) -> [Int] {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch { throw DataError("cannot read \(url.path): \(error.localizedDescription)") }
        defer { try? handle.close() }
        let prefix = [UInt8]((try? handle.read(upToCount: 65536)) ?? Data())
        return try NPY.header(of: prefix, file: url.path).0.shape
    }
}

extension PointSet {
    /// The points in the NPY file at `url`: row `i` of the `(n, d)` float array is point `i`.
    public static func readNPY(from url: URL) throws(DataError) -> PointSet {
        let array = try NPYArray.read(from: url) { shape, descr throws(DataError) in
            guard shape.count == 2 else {
                throw DataError("\(url.path): shape \(NPY.describe(shape)) is not 2-D (expected (points, dimension); images are (n, h, w), (n, c, h, w) or (n, h, w, c))")
            }
            guard descr.hasPrefix("<f") else {
                throw DataError("\(url.path): unsupported dtype '\(descr)' for points (float32 '<f4' or float64 '<f8'; uint8 arrays are read as images of 3 or 4 dimensions)")
            }
        }
        return PointSet(count: array.shape[0], dimension: array.shape[1], values: array.values)
    }

    /// Writes the points as an NPY 1.0 file of `<f4`, shape `(count, dimension)`, atomically: a temporary file
    /// in the same folder renamed into place.
    public func writeNPY(to url: URL) throws(DataError) {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(count), \(dimension)), }"
        // numpy pads the header with spaces and a newline so that the data starts on a 64-byte boundary.
        let unpadded = NPY.magic.count + 2 + 2 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes = NPY.magic + [1, 0]
        let length = UInt16(header.utf8.count)
        bytes += [UInt8(length & 0xff), UInt8(length >> 8)]
        bytes += Array(header.utf8)
        bytes.reserveCapacity(bytes.count + 4 * values.count)
        for value in values {
            let bits = value.bitPattern
            bytes += [UInt8(bits & 0xff), UInt8(bits >> 8 & 0xff), UInt8(bits >> 16 & 0xff), UInt8(bits >> 24)]
        }
        try DataFile.writeAtomically(Data(bytes), to: url)
    }
}

enum NPY {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// The unsigned integer stored little-endian at `bytes[at ..< at + size]`.
    static func littleEndianWord<T: FixedWidthInteger & UnsignedInteger>(_ bytes: [UInt8], _ at: Int, _: T.Type) -> T {
        var word: T = 0
        for b in 0 ..< T.bitWidth / 8 { word |= T(bytes[at + b]) << (8 * b) }
        return word
    }

    /// The header of an NPY file's bytes (its first bytes suffice) and where its data starts.
    static func header(of bytes: [UInt8], file name: String) throws(DataError) -> (Header, Int) {
        guard bytes.count >= 8, bytes[0 ..< 6].elementsEqual(magic) else {
            throw DataError("\(name): not an NPY file (bad magic: it must start with \\x93NUMPY)")
        }
        let major = bytes[6], minor = bytes[7]
        guard (1 ... 3).contains(major) else { throw DataError("\(name): unsupported NPY version \(major).\(minor)") }
        let lengthBytes = major == 1 ? 2 : 4
        guard bytes.count >= 8 + lengthBytes else { throw DataError("\(name): truncated NPY header") }
        let headerLength = (0 ..< lengthBytes).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        let dataStart = 8 + lengthBytes + headerLength
        guard bytes.count >= dataStart else {
            throw DataError("\(name): truncated NPY header (\(headerLength) bytes announced, \(bytes.count - 8 - lengthBytes) present)")
        }
        return (try Header(parsing: String(decoding: bytes[(8 + lengthBytes) ..< dataStart], as: UTF8.self), file: name), dataStart)
    }

    /// Where element `k` (C order) of an array of `shape` lies: "row r, column c" for a matrix, "index (i, j, ...)"
    /// otherwise.
    static func position(_ k: Int, shape: [Int]) -> String {
        var index: [Int] = [], rest = k
        for size in shape.reversed() { index.insert(rest % size, at: 0); rest /= size }
        return index.count == 2 ? "row \(index[0]), column \(index[1])" : "index (" + index.map(String.init).joined(separator: ", ") + ")"
    }

    /// A shape as Python prints it: `(5,)`, `(3, 2)`.
    static func describe(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// The three fields of the header dict. The dict is a Python literal that numpy writes in one fixed style,
    /// so a small scanner for strings, booleans and tuples of integers reads every file numpy writes.
    struct Header {
        var descr: String
        var fortranOrder: Bool
        var shape: [Int]

        init(parsing text: String, file: String) throws(DataError) {
            func value(_ key: String) throws(DataError) -> Substring {
                guard let keyRange = text.range(of: "'\(key)'") ?? text.range(of: "\"\(key)\"") else {
                    throw DataError("\(file): malformed NPY header (no '\(key)'): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
                }
                var rest = text[keyRange.upperBound...].drop { $0 == " " }
                guard rest.first == ":" else { throw DataError("\(file): malformed NPY header near '\(key)'") }
                rest = rest.dropFirst().drop { $0 == " " }
                return rest
            }
            let descrText = try value("descr")
            guard let quote = descrText.first, quote == "'" || quote == "\"",
                  let end = descrText.dropFirst().firstIndex(of: quote) else {
                throw DataError("\(file): malformed NPY header: 'descr' is not a string (structured dtypes are not supported)")
            }
            descr = String(descrText[descrText.index(after: descrText.startIndex) ..< end])

            let orderText = try value("fortran_order")
            if orderText.hasPrefix("True") { fortranOrder = true } else if orderText.hasPrefix("False") { fortranOrder = false } else {
                throw DataError("\(file): malformed NPY header: 'fortran_order' is neither True nor False")
            }

            let shapeText = try value("shape")
            guard shapeText.first == "(", let close = shapeText.firstIndex(of: ")") else {
                throw DataError("\(file): malformed NPY header: 'shape' is not a tuple")
            }
            var dimensions: [Int] = []
            for part in shapeText[shapeText.index(after: shapeText.startIndex) ..< close].split(separator: ",") {
                let trimmed = part.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty { continue }
                guard let size = Int(trimmed.hasSuffix("L") ? String(trimmed.dropLast()) : trimmed), size >= 0 else {
                    throw DataError("\(file): malformed NPY header: shape entry '\(trimmed)' is not a size")
                }
                dimensions.append(size)
            }
            shape = dimensions
        }
    }
}
