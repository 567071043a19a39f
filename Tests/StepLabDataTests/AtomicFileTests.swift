import Foundation
import Testing
import StepLabData

/// A failed atomic write leaves what was there and no temporary file. (The full-disk case, a write that fails
/// half way, runs the CLI under `ulimit -f` in DiskFullTests.)
@Suite struct AtomicFileTests {
    static func withDirectory(_ body: (URL) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-file-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(directory)
    }

    @Test func replacesAFileWhole() throws {
        try Self.withDirectory { (directory: URL) throws in
            let target = directory.appendingPathComponent("model.safetensors")
            try Data("old".utf8).write(to: target)
            try AtomicFile.write(Data(repeating: 7, count: 100_000), to: target)
            #expect(try Data(contentsOf: target) == Data(repeating: 7, count: 100_000))
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.safetensors"])
        }
    }

    @Test func aFailedRenameKeepsTheTargetAndRemovesTheTemporaryFile() throws {
        try Self.withDirectory { (directory: URL) throws in
            // A non-empty folder cannot be replaced by a file: the write succeeds, the rename fails.
            let target = directory.appendingPathComponent("taken")
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            try Data("precious".utf8).write(to: target.appendingPathComponent("inside"))
            do {
                try AtomicFile.write(Data("new".utf8), to: target)
                Issue.record("wrote over a folder")
            } catch {
                #expect("\(error)".hasPrefix("cannot write \(target.path): "), "\(error)")
                #expect(!"\(error)".contains("\n"))
            }
            #expect(try Data(contentsOf: target.appendingPathComponent("inside")) == Data("precious".utf8))
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["taken"])
        }
    }

    @Test func aMissingFolderNamesTheFileAndTheReason() throws {
        try Self.withDirectory { (directory: URL) throws in
            let target = directory.appendingPathComponent("absent/config.json")
            let error = #expect(throws: AtomicFile.WriteError.self) { try AtomicFile.write(Data("x".utf8), to: target) }
            #expect(error?.description == "cannot write \(target.path): No such file or directory")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
        }
    }
}
