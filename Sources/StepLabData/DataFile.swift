import Foundation

/// Reading and writing user data files: CSV (`CSVFormat.swift`) and NPY (`NPYFormat.swift`), chosen by the
/// file's extension.
extension PointSet {
    /// The points in the `.csv` or `.npy` file at `url`.
    public static func read(from url: URL) throws(DataError) -> PointSet {
        switch url.pathExtension.lowercased() {
        case "csv": return try readCSV(from: url)
        case "npy": return try readNPY(from: url)
        default: throw DataError("\(url.path): unknown data file type '.\(url.pathExtension)' (expected .csv or .npy)")
        }
    }

    /// Writes the points to `url` as CSV or NPY, chosen by its extension.
    public func write(to url: URL) throws(DataError) {
        switch url.pathExtension.lowercased() {
        case "csv": try writeCSV(to: url)
        case "npy": try writeNPY(to: url)
        default: throw DataError("\(url.path): unknown data file type '.\(url.pathExtension)' (expected .csv or .npy)")
        }
    }
}

enum DataFile {
    /// The bytes of the file at `url`; a missing, unreadable or empty file is an error.
    static func contents(of url: URL) throws(DataError) -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw DataError("cannot read \(url.path): no such file")
        }
        guard !isDirectory.boolValue else { throw DataError("cannot read \(url.path): it is a directory") }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataError("cannot read \(url.path): \(error.localizedDescription)")
        }
        guard !data.isEmpty else { throw DataError("\(url.path): empty file") }
        return data
    }

    /// Writes `data` through `AtomicFile` (a flushed temporary sibling renamed over `url`), so a reader or a
    /// crash sees either the old file or the whole new one.
    static func writeAtomically(_ data: Data, to url: URL) throws(DataError) {
        do { try AtomicFile.write(data, to: url) } catch { throw DataError(error.description) }
    }
}
