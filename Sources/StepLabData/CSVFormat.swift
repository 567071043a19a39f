import Foundation

/// CSV: one point per line, coordinates separated by commas, whitespace around each value ignored, blank lines
/// skipped. A first line none of whose fields is a number is a header and is skipped; a first line that mixes
/// numbers and non-numbers is an error rather than a silent header, because it is more likely a damaged row.
extension PointSet {
    /// The points in the CSV file at `url`. Errors name the file and the (1-based) line.
    public static func readCSV(from url: URL) throws(DataError) -> PointSet {
        var text = String(decoding: try DataFile.contents(of: url), as: UTF8.self)
        // Spreadsheets often start UTF-8 CSV files with a byte-order mark; it is not part of the first value.
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        let name = url.path
        var values: [Float] = []
        var dimension = 0, firstDataLine = 0, count = 0
        var header: (line: Int, fields: Int)?
        var lineNumber = 0
        // Character.isNewline also ends CRLF lines: "\r\n" is a single Character in Swift.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if fields.count == 1 && fields[0].isEmpty { continue }
            if count == 0 && header == nil && fields.allSatisfy({ Float($0) == nil }) {
                header = (lineNumber, fields.count)
                continue
            }
            if count == 0 {
                if let header, header.fields != fields.count {
                    throw DataError("\(name) line \(lineNumber): ragged row: \(fields.count) values, but the header on line \(header.line) has \(header.fields) names")
                }
                dimension = fields.count
                firstDataLine = lineNumber
            } else if fields.count != dimension {
                throw DataError("\(name) line \(lineNumber): ragged row: \(fields.count) values, but line \(firstDataLine) has \(dimension)")
            }
            for (column, field) in fields.enumerated() {
                guard let value = Float(field) else {
                    throw DataError("\(name) line \(lineNumber), column \(column + 1): '\(field)' is not a number")
                }
                guard value.isFinite else {
                    throw DataError("\(name) line \(lineNumber), column \(column + 1): '\(field)' is not finite (NaN and Inf, or values beyond float32, are not allowed)")
                }
                values.append(value)
            }
            count += 1
        }
        guard count > 0 else {
            throw DataError("\(name): empty file (\(header == nil ? "no data rows" : "a header but no data rows"))")
        }
        return PointSet(count: count, dimension: dimension, values: values)
    }

    /// Writes the points as CSV (no header; each value in the shortest form that reads back to the same float),
    /// atomically: a temporary file in the same folder renamed into place.
    public func writeCSV(to url: URL) throws(DataError) {
        var text = ""
        text.reserveCapacity(values.count * 12)
        for i in 0 ..< count {
            text += self[point: i].map { "\($0)" }.joined(separator: ",")
            text += "\n"
        }
        try DataFile.writeAtomically(Data(text.utf8), to: url)
    }
}
