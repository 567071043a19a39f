import Foundation

/// NPY (numpy's `np.save` format, versions 1.0, 2.0 and 3.0): the magic `\x93NUMPY`, a version, a header length
/// (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), a Python dict literal with `descr`, `fortran_order`
/// and `shape`, then the raw data. StepLab reads 2-D C-order arrays of little-endian float32 (`<f4`) or float64
/// (`<f8`), and writes `<f4`.
extension PointSet {
    /// The points in the NPY file at `url`: row `i` of the `(n, d)` array is point `i`.
    public static func readNPY(from url: URL) throws(DataError) -> PointSet {
        let bytes = [UInt8](try DataFile.contents(of: url))
        let name = url.path
        guard bytes.count >= 8, bytes[0 ..< 6].elementsEqual(NPY.magic) else {
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
        let header = try NPY.Header(parsing: String(decoding: bytes[(8 + lengthBytes) ..< dataStart], as: UTF8.self), file: name)

        let itemSize: Int
        switch header.descr {
        case "<f4": itemSize = 4
        case "<f8": itemSize = 8
        default:
            throw DataError("\(name): unsupported dtype '\(header.descr)' (StepLab reads little-endian float32 '<f4' and float64 '<f8')")
        }
        guard !header.fortranOrder else {
            throw DataError("\(name): fortran_order is True; save a C-order array (np.ascontiguousarray)")
        }
        guard header.shape.count == 2 else {
            throw DataError("\(name): shape \(NPY.describe(header.shape)) is not 2-D (expected (points, dimension))")
        }
        let (count, dimension) = (header.shape[0], header.shape[1])
        guard count > 0, dimension > 0 else { throw DataError("\(name): empty array of shape \(NPY.describe(header.shape))") }
        let elements = count.multipliedReportingOverflow(by: dimension)
        let needed = elements.partialValue.multipliedReportingOverflow(by: itemSize)
        guard !elements.overflow, !needed.overflow, bytes.count - dataStart >= needed.partialValue else {
            throw DataError("\(name): truncated data: shape \(NPY.describe(header.shape)) of \(header.descr) needs \(elements.overflow || needed.overflow ? "more than \(Int.max)" : "\(needed.partialValue)") bytes, the file holds \(bytes.count - dataStart)")
        }

        var values = [Float](repeating: 0, count: count * dimension)
        for k in values.indices {
            let at = dataStart + k * itemSize
            let value: Float
            if itemSize == 4 {
                value = Float(bitPattern: NPY.littleEndianWord(bytes, at, UInt32.self))
            } else {
                value = Float(Double(bitPattern: NPY.littleEndianWord(bytes, at, UInt64.self)))
            }
            guard value.isFinite else {
                throw DataError("\(name): value at row \(k / dimension), column \(k % dimension) (0-based) is not finite (NaN and Inf, or values beyond float32, are not allowed)")
            }
            values[k] = value
        }
        return PointSet(count: count, dimension: dimension, values: values)
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
