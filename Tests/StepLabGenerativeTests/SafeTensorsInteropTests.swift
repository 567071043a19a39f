import Foundation
import StepLabTestSupport
import Testing
@testable import StepLabData

/// StepLab's safetensors against Python's own library: a file it wrote (committed, remade by
/// Fixtures/make_fixture.py) read here, and a checkpoint written here read by it.
@Suite struct SafeTensorsInteropTests {
    static func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    @Test func readsAFileWrittenByPythonsSafetensors() throws {
        let url = try #require(Bundle.module.url(forResource: "python-written", withExtension: "safetensors", subdirectory: "Fixtures"))
        let file = try SafeTensors.read(url)
        #expect(file.metadata == ["format": "pt", "note": "written by safetensors.numpy", "unicode": "\u{e9}\u{4e2d}"])
        #expect(Set(file.tensors.keys) == ["z.double", "scalar", "matrix", "specials", "cube", "empty", "rank0"])
        let expected: [String: SafeTensors.HostTensor] = [
            "z.double": SafeTensors.HostTensor(shape: [3], values: [Float(0.1 as Double), -2.5, 0]),
            "scalar": SafeTensors.HostTensor(shape: [1], values: [-0.0]),
            "matrix": SafeTensors.HostTensor(shape: [3, 5], values: (0 ..< 15).map { Float($0) / 7 }),
            "specials": SafeTensors.HostTensor(shape: [5], values: [.infinity, -.infinity, .greatestFiniteMagnitude,
                                                                .leastNonzeroMagnitude, -.leastNormalMagnitude]),
            "cube": SafeTensors.HostTensor(shape: [2, 1, 3], values: [1, 2, 3, 4, 5, 6]),
            "empty": SafeTensors.HostTensor(shape: [0, 4], values: []),
            "rank0": SafeTensors.HostTensor(shape: [], values: [2.5]),
        ]
        for (name, tensor) in expected {
            let read = try #require(file.tensors[name], "\(name) missing")
            #expect(read.shape == tensor.shape, "\(name)")
            // Bit patterns, so -0.0 and the subnormal count too.
            #expect(Self.bits(read.values) == Self.bits(tensor.values), "\(name): \(read.values)")
        }
    }

    /// What makes the fixture worth having: Python's layout differs from StepLab's, so the reader must follow
    /// the offsets and tolerate the padding rather than assume its own writer's choices.
    @Test func theFixtureUsesALayoutStepLabsWriterDoesNot() throws {
        let url = try #require(Bundle.module.url(forResource: "python-written", withExtension: "safetensors", subdirectory: "Fixtures"))
        let data = try Data(contentsOf: url)
        let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let headerBytes = data.subdata(in: 8 ..< 8 + length)
        #expect(headerBytes.last == UInt8(ascii: " "), "header padded with spaces")
        let header = try #require(try JSONSerialization.jsonObject(with: headerBytes) as? [String: Any])
        let start = { (name: String) in ((header[name] as? [String: Any])?["data_offsets"] as? [Int])?.first }
        // The name that sorts last holds the first bytes (F64 before F32); StepLab's writer goes by name.
        #expect(start("z.double") == 0)
        #expect(try #require(start("cube")) > 0)
    }

    @Test(.enabled(if: PythonSafetensors.available, "needs python3 with safetensors and numpy (pip install safetensors numpy)"))
    func pythonReadsAStepLabCheckpoint() throws {
        var random = TestRandom(seed: 61)
        let count = 1000
        let tensors: [String: SafeTensors.HostTensor] = [
            "raw": SafeTensors.HostTensor(shape: [count], values: random.array(count)),
            "ema": SafeTensors.HostTensor(shape: [count], values: random.array(count)),
            "adam/m": SafeTensors.HostTensor(shape: [count], values: random.array(count, -1e-3, 1e-3)),
            "adam/v": SafeTensors.HostTensor(shape: [count], values: random.array(count, 0, 1e-6)),
            "raw/layers.0.weight": SafeTensors.HostTensor(shape: [3, 5], values: [-0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
                                                         + random.array(12)),
            "raw/layers.0.bias": SafeTensors.HostTensor(shape: [1], values: [7]),
        ]
        let metadata = ["format": "steplab-checkpoint-1", "step": "1200",
                        "config": #"{"data":"C:\\points \"x\".csv","note":"é中","width":64}"#]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-interop-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("checkpoint.safetensors")
        try SafeTensors.write(tensors, metadata: metadata, to: url)

        // load_file validates the whole file (header, dtypes, offsets covering the buffer without holes).
        let report = try PythonSafetensors.run("""
            import json, sys
            from safetensors import safe_open
            from safetensors.numpy import load_file
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="numpy") as f:
                metadata = f.metadata()
            print(json.dumps({"metadata": metadata, "tensors": {name: {"dtype": str(t.dtype), "shape": list(t.shape),
                "hex": t.tobytes().hex()} for name, t in tensors.items()}}))
            """, arguments: [url.path])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any])
        #expect(parsed["metadata"] as? [String: String] == metadata)
        let read = try #require(parsed["tensors"] as? [String: [String: Any]])
        #expect(Set(read.keys) == Set(tensors.keys))
        for (name, tensor) in tensors {
            let entry = try #require(read[name], "\(name) missing")
            #expect(entry["dtype"] as? String == "float32", "\(name)")
            #expect(entry["shape"] as? [Int] == tensor.shape, "\(name)")
            let hex = tensor.values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
                .map { String(format: "%02x", $0) }.joined()
            #expect(entry["hex"] as? String == hex, "\(name): values differ")
        }
    }
}

/// python3 with the safetensors and numpy packages, for the interoperability test.
enum PythonSafetensors {
    static let available: Bool = (try? run("import safetensors.numpy, numpy")) != nil

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Runs `script` with python3 (`arguments` become sys.argv[1...]); its standard output, or a throw unless it
    /// exits 0.
    static func run(_ script: String, arguments: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile(), errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "python3 exited with \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
        }
        return String(decoding: output, as: UTF8.self)
    }
}
