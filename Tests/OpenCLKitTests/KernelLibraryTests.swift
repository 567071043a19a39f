import Foundation
import Testing
import OpenCLKit
import StepLabKernels

@Suite struct KernelLibraryTests {
    static let kernelsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Kernels")

    @Test func everyKernelFileIsEmbeddedVerbatim() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.kernelsDirectory.path)
            .filter { $0.hasSuffix(".cl") }.sorted()
        #expect(!files.isEmpty)
        #expect(files == KernelLibrary.embedded.keys.sorted())
        for file in files {
            let onDisk = try String(contentsOf: Self.kernelsDirectory.appendingPathComponent(file), encoding: .utf8)
            #expect(KernelLibrary.embedded[file] == onDisk, "\(file) differs from its embedded copy")
        }
    }

    @Test func overrideDirectoryWinsForTheFilesItHolds() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steplab-kernels-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "// hacked\n".write(to: directory.appendingPathComponent("elementwise.cl"), atomically: true, encoding: .utf8)
        let environment = ["STEPLAB_KERNELS": directory.path]
        #expect(try KernelLibrary.source("elementwise.cl", environment: environment) == "// hacked\n")
        #expect(try KernelLibrary.source("elementwise.cl", environment: [:]) == KernelLibrary.embedded["elementwise.cl"])
        #expect(throws: OpenCLError.self) { try KernelLibrary.source("nope.cl", environment: environment) }
    }
}
