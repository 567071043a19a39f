import Foundation
import Testing

/// `steplab train` on a full disk, simulated with `ulimit -f`: one clear line naming the file it could not
/// write, and every file that was whole before is still whole, with no temporary file left behind.
@Suite struct DiskFullTests {
    /// Width 640 x 3 makes a 13 MB checkpoint. 8192 blocks (4 MiB) still let POCL write its preprocessed kernel
    /// sources (about 1 MiB each, even with a warm kernel cache) and the run's small files, but no checkpoint.
    static let limit = 8192
    static let common = ["--method", "diffusion", "--data", "two-moons", "--iterations", "20", "--batch", "32",
                         "--width", "640", "--depth", "3", "--checkpoint-every", "10", "--log-every", "10", "--device", "0"]

    static func names(in folder: URL) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
    }

    static func expectOneLineError(_ result: (status: Int32, out: String, err: String), naming file: String) {
        #expect(result.status != 0)
        let lines = result.err.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.err)")
        #expect(result.err.contains(file) && result.err.contains("File too large"), "stderr: \(result.err)")
        #expect(!result.err.contains("Fatal error") && !result.err.contains("Stack dump"))
    }

    @Test func aFirstCheckpointThatDoesNotFitIsOneLineAndLeavesNoPartialFile() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        let result = try CommandLineTests.run(["train", "--out", run.path] + Self.common, fileSizeLimit: Self.limit)
        Self.expectOneLineError(result, naming: run.appendingPathComponent("checkpoint-000000010.safetensors").path)
        // Only the files that fit, whole; no checkpoint, no model, no temporary file.
        #expect(try Self.names(in: run) == ["config.json", "metrics.csv", "metrics.jsonl"])
    }

    @Test func aCheckpointThatDoesNotFitKeepsTheEarlierOneWholeAndResumable() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        let first = try CommandLineTests.run(["train", "--out", run.path, "--stop-after", "10"] + Self.common)
        #expect(first.status == 0, "\(first.err)")
        let good = run.appendingPathComponent("checkpoint-000000010.safetensors")
        let before = try Data(contentsOf: good), config = try Data(contentsOf: run.appendingPathComponent("config.json"))
        #expect(before.count > Self.limit * 512, "the checkpoint must not fit under the limit for this test to mean anything")

        let full = try CommandLineTests.run(["train", "--resume", run.path], fileSizeLimit: Self.limit)
        Self.expectOneLineError(full, naming: run.appendingPathComponent("checkpoint-000000020.safetensors").path)
        #expect(try Data(contentsOf: good) == before, "the earlier checkpoint changed")
        #expect(try Data(contentsOf: run.appendingPathComponent("config.json")) == config)
        #expect(try Self.names(in: run) == ["config.json", "metrics.csv", "metrics.jsonl", good.lastPathComponent])

        // With room again, the kept checkpoint finishes the run.
        let resumed = try CommandLineTests.run(["train", "--resume", run.path])
        #expect(resumed.status == 0, "\(resumed.err)")
        #expect(resumed.out.contains("resuming \(run.path) at step 10"))
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("model.safetensors").path))
    }
}
