import Foundation
import Testing

/// Runs the built `steplab` binary in a subprocess: the only way to give the ICD loader a different
/// environment, since it reads `OCL_ICD_VENDORS` once per process.
@Suite struct CommandLineTests {
    static var binary: URL {
        // The test bundle sits next to the package's executables in the build folder.
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("steplab").path),
              directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("steplab")
    }

    /// Runs `steplab arguments`; with `fileSizeLimit`, through /bin/sh under `ulimit -f` (512-byte blocks in
    /// dash and POSIX sh), with SIGXFSZ ignored so a write past the limit fails with EFBIG, as on a full disk,
    /// instead of killing the process.
    static func run(_ arguments: [String], environment: [String: String] = [:],
                    fileSizeLimit blocks: Int? = nil) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        if let blocks {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "trap '' XFSZ; ulimit -f \(blocks) && exec \"$0\" \"$@\"", binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    @Test func devicesListsATableAndJSON() throws {
        let table = try Self.run(["devices"])
        #expect(table.status == 0)
        #expect(table.out.contains("name"))
        let json = try Self.run(["devices", "--json"])
        #expect(json.status == 0)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [[String: Any]]
        #expect((parsed?.count ?? 0) >= 1)
        #expect(parsed?.first?["name"] is String)
    }

    @Test func deviceCheckRunsKernelsAgainstTheReference() throws {
        let result = try Self.run(["devices", "--check", "--device", "0"])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains("axpy on 1048576 elements: exact"))
        #expect(result.out.contains("max relative error"))
    }

    @Test func noPlatformGivesAnInstallHintAndNonZeroExit() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("no-icd-\(UUID())")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        let result = try Self.run(["devices"], environment: ["OCL_ICD_VENDORS": empty.path])
        #expect(result.status != 0)
        #expect(result.err.contains("pocl-opencl-icd"))
        #expect(result.err.split(separator: "\n").count == 1)
    }

    @Test func unknownDeviceIsOneClearLine() throws {
        let result = try Self.run(["devices", "--device", "no-such-device-xyz"])
        #expect(result.status != 0)
        #expect(result.err.contains("no OpenCL device matches 'no-such-device-xyz'"))
        #expect(result.err.split(separator: "\n").count == 1)
    }
}
