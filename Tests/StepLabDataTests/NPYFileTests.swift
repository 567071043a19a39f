import Foundation
import StepLabTestSupport
import Testing
import StepLabData

@Suite struct NPYFileTests {
    /// An NPY file built by hand: `header` is the dict text, padded like numpy pads it.
    static func npy(_ header: String, major: UInt8 = 1, payload: [UInt8]) -> Data {
        var text = header
        let lengthBytes = major == 1 ? 2 : 4
        text += String(repeating: " ", count: (64 - (8 + lengthBytes + text.utf8.count + 1) % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
        bytes += (0 ..< lengthBytes).map { UInt8(truncatingIfNeeded: text.utf8.count >> (8 * $0)) }
        return Data(bytes + Array(text.utf8) + payload)
    }

    static func float32Bytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in (0 ..< 4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } }
    }

    static func float64Bytes(_ values: [Double]) -> [UInt8] {
        values.flatMap { v in (0 ..< 8).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } }
    }

    static func read(_ data: Data, name: String = "points.npy") throws -> PointSet {
        try withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent(name)
            try data.write(to: url)
            return try PointSet.read(from: url)
        }
    }

    @Test func readsFloat32AndFloat64InEveryVersion() throws {
        let values: [Float] = [1, -2, 0.25, 3e-8, 5, 6]
        let f4 = try Self.read(Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", payload: Self.float32Bytes(values)))
        #expect(f4 == PointSet(count: 3, dimension: 2, values: values))
        for major: UInt8 in [1, 2, 3] {
            let f8 = try Self.read(Self.npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", major: major,
                                            payload: Self.float64Bytes(values.map(Double.init))))
            #expect(f8 == PointSet(count: 2, dimension: 3, values: values), "version \(major)")
        }
        let column = try Self.read(Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6, 1), }", payload: Self.float32Bytes(values)))
        #expect(column.dimension == 1 && column.values == values)
    }

    @Test func errorsNameTheFileAndTheProblem() throws {
        let header = { (descr: String, order: String, shape: String) in
            "{'descr': '\(descr)', 'fortran_order': \(order), 'shape': \(shape), }"
        }
        let six = Self.float32Bytes([1, 2, 3, 4, 5, 6])
        expectDataError("points.npy", "bad magic") { _ = try Self.read(Data("not numpy at all".utf8)) }
        expectDataError("points.npy", "empty file") { _ = try Self.read(Data()) }
        expectDataError("unsupported dtype '>f4'") { _ = try Self.read(Self.npy(header(">f4", "False", "(3, 2)"), payload: six)) }
        expectDataError("unsupported dtype '<i4'") { _ = try Self.read(Self.npy(header("<i4", "False", "(3, 2)"), payload: six)) }
        expectDataError("unsupported dtype '<f2'") { _ = try Self.read(Self.npy(header("<f2", "False", "(3, 2)"), payload: six)) }
        expectDataError("fortran_order is True") { _ = try Self.read(Self.npy(header("<f4", "True", "(3, 2)"), payload: six)) }
        expectDataError("shape (6,) is not 2-D") { _ = try Self.read(Self.npy(header("<f4", "False", "(6,)"), payload: six)) }
        expectDataError("shape (1, 3, 2) is not 2-D") { _ = try Self.read(Self.npy(header("<f4", "False", "(1, 3, 2)"), payload: six)) }
        expectDataError("shape () is not 2-D") { _ = try Self.read(Self.npy(header("<f4", "False", "()"), payload: six)) }
        expectDataError("empty array", "(0, 2)") { _ = try Self.read(Self.npy(header("<f4", "False", "(0, 2)"), payload: [])) }
        expectDataError("truncated data", "(4, 2)", "needs 32 bytes", "holds 24") { _ = try Self.read(Self.npy(header("<f4", "False", "(4, 2)"), payload: six)) }
        expectDataError("truncated NPY header") {
            _ = try Self.read(Self.npy(header("<f4", "False", "(3, 2)"), payload: six).prefix(40))
        }
        expectDataError("row 1, column 0", "not finite") {
            _ = try Self.read(Self.npy(header("<f4", "False", "(3, 2)"), payload: Self.float32Bytes([1, 2, .nan, 4, 5, 6])))
        }
        expectDataError("row 2, column 1", "not finite") {
            _ = try Self.read(Self.npy(header("<f8", "False", "(3, 2)"), payload: Self.float64Bytes([1, 2, 3, 4, 5, 1e300])))
        }
        expectDataError("unsupported NPY version 4.0") {
            var data = Self.npy(header("<f4", "False", "(3, 2)"), payload: six)
            data[6] = 4
            _ = try Self.read(data)
        }
        expectDataError("malformed NPY header", "'shape'") {
            _ = try Self.read(Self.npy("{'descr': '<f4', 'fortran_order': False}", payload: six))
        }
        try withTemporaryDirectory { directory in
            _ = expectDataError("nowhere.npy", "no such file") { _ = try PointSet.readNPY(from: directory.appendingPathComponent("nowhere.npy")) }
        }
    }

    /// Bit-exact round trip, numpy's 64-byte alignment of the data, no temporary file left behind.
    @Test func writeThenReadRoundTrips() throws {
        let points = ToyDataset.swissRoll.points(count: 333, key: .init(seed: 4))
        try withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("out.npy")
            try points.write(to: url)
            #expect(try PointSet.read(from: url) == points)
            let bytes = try Data(contentsOf: url)
            let dataStart = 10 + Int(bytes[8]) + Int(bytes[9]) << 8
            #expect(dataStart % 64 == 0 && bytes.count == dataStart + 333 * 2 * 4)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.npy"])
        }
    }

    /// Files numpy itself wrote (float32, float64, and the refusals), and numpy reading what StepLab wrote;
    /// skipped where python3 with numpy is missing (the hand-built files above cover the format then).
    @Test(.enabled(if: NumPy.available)) func interoperatesWithNumPy() throws {
        try withTemporaryDirectory { directory in
            let written = ToyDataset.eightGaussians.points(count: 50, key: .init(seed: 5))
            try written.writeNPY(to: directory.appendingPathComponent("steplab.npy"))
            try NumPy.run("""
                import numpy as np
                a = np.arange(12, dtype=np.float32).reshape(4, 3) / 8
                np.save('f4.npy', a)
                np.save('f8.npy', a.astype(np.float64) * 1e-3)
                np.save('fortran.npy', np.asfortranarray(a))
                np.save('big.npy', a.astype('>f4'))
                np.save('flat.npy', a.ravel())
                b = np.load('steplab.npy')
                assert b.dtype == np.float32 and b.shape == (50, 2), (b.dtype, b.shape)
                np.savetxt('steplab.txt', b, fmt='%.9g')
                """, in: directory)
            let f4 = try PointSet.read(from: directory.appendingPathComponent("f4.npy"))
            #expect(f4 == PointSet(count: 4, dimension: 3, values: (0 ..< 12).map { Float($0) / 8 }))
            let f8 = try PointSet.read(from: directory.appendingPathComponent("f8.npy"))
            #expect(f8.values == (0 ..< 12).map { Float(Double($0) / 8 * 1e-3) })
            expectDataError("fortran.npy", "fortran_order") { _ = try PointSet.read(from: directory.appendingPathComponent("fortran.npy")) }
            expectDataError("big.npy", "unsupported dtype '>f4'") { _ = try PointSet.read(from: directory.appendingPathComponent("big.npy")) }
            expectDataError("flat.npy", "shape (12,) is not 2-D") { _ = try PointSet.read(from: directory.appendingPathComponent("flat.npy")) }
            let text = try String(contentsOf: directory.appendingPathComponent("steplab.txt"), encoding: .utf8)
            let numpyValues = text.split(whereSeparator: \.isWhitespace).map { Float($0)! }
            #expect(numpyValues == written.values)
        }
    }
}

/// python3 with numpy, for the interoperability test.
enum NumPy {
    static let available: Bool = (try? run("import numpy", in: FileManager.default.temporaryDirectory)) != nil

    /// Runs `script` with python3 in `directory`; throws unless it exits 0.
    static func run(_ script: String, in directory: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw DataError("python3 exited with \(process.terminationStatus)") }
    }
}
