import Foundation
import StepLabData
import StepLabTestSupport
import Testing
@testable import StepLabGenerative

@Suite struct SafeTensorsTests {
    static let sample: [String: SafeTensors.HostTensor] = [
        "layers.0.weight": SafeTensors.HostTensor(shape: [2, 3], values: [1, -2, 3.5, 0, 1e-7, -1e30]),
        "layers.0.bias": SafeTensors.HostTensor(shape: [3], values: [0.25, -0.5, 8]),
    ]

    @Test func roundTripKeepsTensorsAndMetadata() throws {
        let data = try SafeTensors.encode(Self.sample, metadata: ["step": "12", "format": "x"])
        let decoded = try SafeTensors.decode(data, path: "mem")
        #expect(decoded.tensors == Self.sample)
        #expect(decoded.metadata == ["step": "12", "format": "x"])
        // The layout the format fixes: 8-byte little-endian header length, then JSON, data 8-byte aligned.
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + headerLength) % 8 == 0)
        #expect(data.count == 8 + headerLength + 9 * 4)
    }

    @Test func readsAFileWrittenByPythonsLayout() throws {
        // What `safetensors.numpy.save_file({"a": np.array([[1, 2]], np.float32), "b": np.array([3.0])}, ...)` writes
        // (F64 for b), built byte by byte.
        let header = #"{"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}"#
        var data = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(Data(header.utf8))
        for value in [Float(1), 2] { var bits = value.bitPattern.littleEndian; withUnsafeBytes(of: &bits) { data.append(contentsOf: $0) } }
        var bits = Double(3).bitPattern.littleEndian
        withUnsafeBytes(of: &bits) { data.append(contentsOf: $0) }
        let decoded = try SafeTensors.decode(data, path: "python.safetensors")
        #expect(decoded.tensors["a"] == SafeTensors.HostTensor(shape: [1, 2], values: [1, 2]))
        #expect(decoded.tensors["b"] == SafeTensors.HostTensor(shape: [1], values: [3]))
    }

    @Test(arguments: [
        ("truncated", "shorter than its 8-byte header length"),
        ("length past end", "runs past the end of the file"),
        ("bad json", "the header is not a JSON object"),
        ("offsets out of range", "do not fit its shape"),
        ("wrong dtype", "has dtype I64"),
    ])
    func corruptFilesGiveOneLineErrors(kind: String, phrase: String) throws {
        let good = try SafeTensors.encode(Self.sample)
        var bad: Data
        switch kind {
        case "truncated": bad = good.prefix(5)
        case "length past end": bad = good; bad[0] = 0xFF; bad[1] = 0xFF
        case "bad json": bad = good; bad[8] = UInt8(ascii: "[")
        case "offsets out of range":
            bad = try SafeTensors.encode(Self.sample)
            bad = bad.prefix(bad.count - 8)
        default:
            // Same-length substitution inside the header, so only the dtype changes.
            var bytes = [UInt8](good)
            let pattern = Array("\"F32\"".utf8), replacement = Array("\"I64\"".utf8)
            for i in 0 ..< bytes.count - pattern.count where Array(bytes[i ..< i + pattern.count]) == pattern {
                bytes.replaceSubrange(i ..< i + pattern.count, with: replacement)
            }
            bad = Data(bytes)
        }
        do {
            _ = try SafeTensors.decode(bad, path: "bad.safetensors")
            Issue.record("\(kind): decoded without an error")
        } catch {
            let message = "\(error)"
            #expect(message.contains("bad.safetensors") && message.contains(phrase), "\(kind): \(message)")
            #expect(!message.contains("\n"))
        }
    }

    /// Shapes whose element count overflows, or is negative, are errors rather than arithmetic traps.
    @Test(arguments: [[4_611_686_018_427_387_904, 4], [Int.max, Int.max, 2], [-1, 3], [3_074_457_345_618_258_603, 3]])
    func hostileShapesAreOneLineErrors(shape: [Int]) throws {
        let header = #"{"a":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,8]}}"#
        var data = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(Data(header.utf8) + Data(count: 8))
        #expect(throws: SafeTensors.FormatError.self) { _ = try SafeTensors.decode(data, path: "hostile.safetensors") }
    }

    @Test func decodesASliceOfALargerBuffer() throws {
        let file = try SafeTensors.encode(Self.sample, metadata: ["k": "v"])
        let slice = (Data([1, 2, 3]) + file).dropFirst(3)
        #expect(slice.startIndex == 3)
        #expect(try SafeTensors.decode(slice, path: "slice").tensors == Self.sample)
    }

    /// Random and mutated inputs: every reader throws or succeeds, never crashes (bounded run).
    @Test func readersSurviveFuzzedInput() throws {
        var random = TestRandom(seed: 2026)
        let seeds: [(String, Data)] = [
            ("safetensors", try SafeTensors.encode(Self.sample, metadata: ["k": "v"])),
            ("csv", Data("x,y\n1,2\n3.5,-4e2\n".utf8)),
            ("npy", Data([0x93] + Array("NUMPY".utf8) + [1, 0, 0x46, 0]
                         + Array("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }".utf8)
                         + [UInt8](repeating: 0x20, count: 5) + [0x0A] + [0, 0, 128, 63, 0, 0, 0, 64])),
        ]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (kind, original) in seeds {
            for round in 0 ..< 300 {
                var bytes = [UInt8](original)
                switch round % 4 {
                case 0: bytes = (0 ..< Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                case 1: for _ in 0 ..< 1 + Int(random.next() % 4) where !bytes.isEmpty { bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next()) }
                case 2: bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count + 1))))
                default: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: Int(random.next() % UInt64(bytes.count + 1)))
                }
                let url = directory.appendingPathComponent("case.\(kind == "safetensors" ? "safetensors" : kind)")
                try Data(bytes).write(to: url)
                switch kind {
                case "safetensors": _ = try? SafeTensors.read(url)
                default: _ = try? PointSet.read(from: url)
                }
            }
        }
    }
}
