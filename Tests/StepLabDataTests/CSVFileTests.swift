import Foundation
import StepLabTestSupport
import Testing
import StepLabData

@Suite struct CSVFileTests {
    /// Writes `text` to `name` in a fresh folder and reads it back as CSV.
    static func read(_ text: String, name: String = "points.csv") throws -> PointSet {
        try withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent(name)
            try text.write(to: url, atomically: false, encoding: .utf8)
            return try PointSet.readCSV(from: url)
        }
    }

    @Test func aNonNumericFirstRowIsAHeader() throws {
        let withHeader = try Self.read("x, y\n1, 2\n3, 4\n")
        #expect(withHeader == PointSet(count: 2, dimension: 2, values: [1, 2, 3, 4]))
        let without = try Self.read("1,2\n3,4")
        #expect(without == withHeader)
    }

    @Test func whitespaceCRLFAndBlankLinesAreIgnoredAnyDimensionReads() throws {
        #expect(try Self.read("\n  a ,\tb,c \r\n 1 ,2,3\r\n\r\n-4.5e1, 0x1p-2 ,+6\r\n\n") ==
            PointSet(count: 2, dimension: 3, values: [1, 2, 3, -45, 0.25, 6]))
        #expect(try Self.read("0.5\n-1\n") == PointSet(count: 2, dimension: 1, values: [0.5, -1]))
        #expect(try Self.read("\u{FEFF}7,8\n") == PointSet(count: 1, dimension: 2, values: [7, 8]))
    }

    @Test func errorsNameTheFileAndLine() throws {
        expectDataError("points.csv", "line 3", "ragged", "3 values", "line 1 has 2") { _ = try Self.read("1,2\n3,4\n5,6,7\n") }
        expectDataError("line 2", "ragged", "header on line 1") { _ = try Self.read("x,y\n1,2,3\n") }
        expectDataError("line 2, column 2", "'abc' is not a number") { _ = try Self.read("1,2\n3,abc\n") }
        expectDataError("line 1, column 2", "not a number") { _ = try Self.read("1,abc\n3,4\n") }
        expectDataError("line 2, column 1", "'' is not a number") { _ = try Self.read("1,2\n,4\n") }
        expectDataError("line 3, column 1", "'nan'", "not finite") { _ = try Self.read("x,y\n1,2\nnan,4\n") }
        expectDataError("line 1, column 2", "'-inf'", "not finite") { _ = try Self.read("1,-inf\n") }
        expectDataError("line 1, column 1", "'1e39'", "not finite") { _ = try Self.read("1e39,0\n") }
        expectDataError("points.csv", "empty file") { _ = try Self.read("") }
        expectDataError("empty file", "no data rows") { _ = try Self.read(" \n\n") }
        expectDataError("empty file", "header") { _ = try Self.read("x,y\n") }
    }

    @Test func missingFilesAndFoldersAreRefused() throws {
        try withTemporaryDirectory { directory in
            let missing = directory.appendingPathComponent("nowhere.csv")
            expectDataError("cannot read", "nowhere.csv", "no such file") { _ = try PointSet.readCSV(from: missing) }
            let folder = directory.appendingPathComponent("folder.csv")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
            expectDataError("cannot read", "folder.csv", "directory") { _ = try PointSet.read(from: folder) }
            expectDataError("unknown data file type '.txt'") { _ = try PointSet.read(from: directory.appendingPathComponent("a.txt")) }
            let points = PointSet(count: 1, dimension: 2, values: [1, 2])
            expectDataError("cannot write", "absent/out.csv") { try points.write(to: directory.appendingPathComponent("absent/out.csv")) }
        }
    }

    /// Every float comes back bit for bit (the writer prints the shortest round-tripping form), the write
    /// replaces an existing file, and no temporary file is left behind.
    @Test func writeThenReadRoundTrips() throws {
        var values: [Float] = [0, -0, 1, -1.5, .leastNormalMagnitude, .greatestFiniteMagnitude, 1e-30, 3.14159265]
        values += ToyDataset.spirals.sampleOnHost(count: 100, seed: 3)
        let points = PointSet(count: values.count / 2, dimension: 2, values: values)
        try withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("out.csv")
            try PointSet(count: 1, dimension: 1, values: [42]).writeCSV(to: url)
            try points.writeCSV(to: url)
            let back = try PointSet.read(from: url)
            #expect(back.values.map(\.bitPattern) == points.values.map(\.bitPattern) && back.count == points.count)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.csv"])
        }
    }
}
