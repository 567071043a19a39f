import Foundation
import Testing

/// `steplab train --devices`: POCL has one CPU device, so these open it twice, which runs the whole data-parallel
/// path (two contexts, two replicas, the ordered reduction).
@Suite struct DataParallelCommandTests {
    static let common = ["train", "--method", "mct", "--data", "two-moons", "--iterations", "60", "--batch", "64", "--width", "16",
                         "--blocks", "2", "--log-every", "20", "--checkpoint-every", "20"]

    static func weights(_ run: URL) throws -> Data { try Data(contentsOf: run.appendingPathComponent("model.safetensors")) }

    /// 64 samples from the same noise, as numbers.
    static func samples(_ run: URL) throws -> [Double] {
        let out = run.appendingPathComponent("samples.csv")
        let result = try CommandLineTests.run(["sample", "--run", run.path, "--count", "64", "--out", out.path])
        #expect(result.status == 0, "\(result.err)")
        return try String(contentsOf: out, encoding: .utf8).split(whereSeparator: { $0 == "\n" || $0 == "," }).compactMap { Double($0) }
    }

    @Test func twoDevicesRepeatToTheByteResumeExactlyAndAgreeWithOne() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (a, b, single, stopped) = (folder.appendingPathComponent("a"), folder.appendingPathComponent("b"),
                                       folder.appendingPathComponent("single"), folder.appendingPathComponent("stopped"))
        let first = try CommandLineTests.run(Self.common + ["--out", a.path, "--devices", "0,0"])
        #expect(first.status == 0, "\(first.err)")
        #expect(first.out.contains("2 devices") && first.out.contains("32 rows each"), "\(first.out)")
        #expect(try CommandLineTests.run(Self.common + ["--out", b.path, "--devices", "0,0"]).status == 0)
        #expect(try Self.weights(a) == Self.weights(b), "two 2-device runs differ")

        // Stopped after a checkpoint and resumed on two devices: the same bytes as the uninterrupted run.
        #expect(try CommandLineTests.run(Self.common + ["--out", stopped.path, "--devices", "0,0", "--stop-after", "30"]).status == 0)
        let resumed = try CommandLineTests.run(["train", "--resume", stopped.path, "--devices", "0,0"])
        #expect(resumed.status == 0 && !resumed.out.contains("note:"), "\(resumed.err)")
        #expect(try Self.weights(stopped) == Self.weights(a), "resumed 2-device run differs")

        // One device computes the same step up to float summation order.
        #expect(try CommandLineTests.run(Self.common + ["--out", single.path, "--device", "0"]).status == 0)
        let (parallel, one) = (try Self.samples(a), try Self.samples(single))
        #expect(parallel.count == 128 && one.count == 128)
        let worst = zip(parallel, one).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 0.02, "2-device and 1-device samples differ by \(worst)")
    }

    @Test func resumingOnAnotherDeviceCountSaysSo() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        #expect(try CommandLineTests.run(Self.common + ["--out", run.path, "--devices", "0,0", "--stop-after", "20"]).status == 0)
        let resumed = try CommandLineTests.run(["train", "--resume", run.path, "--device", "0"])
        #expect(resumed.status == 0, "\(resumed.err)")
        #expect(resumed.out.contains("note: the checkpoint was written by 2 device(s) and this run has 1"), "\(resumed.out)")
    }

    @Test(arguments: [
        (["--devices", "0,9"], "9"),
        (["--devices", "0,,0"], "--devices must be a comma-separated list"),
        (["--devices", "0,0", "--device", "0"], "pass --device or --devices, not both"),
        (["--devices", "0,0", "--batch", "20"], "a batch of 20 cannot be split over 2 devices: it must be a multiple of 8"),
        (["--devices", "0,0", "--gradient-buckets=-1"], "--gradient-buckets must be 0 or a positive number of floats (got -1)"),
    ])
    func badDevicesAreOneClearLine(extra: [String], phrase: String) throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try CommandLineTests.run(["train", "--data", "checkerboard", "--iterations", "2", "--out", folder.appendingPathComponent("run").path] + extra)
        #expect(result.status != 0)
        #expect(result.err.contains(phrase), "stderr: \(result.err)")
        #expect(!result.err.contains("Fatal error") && !result.err.contains("Stack dump"), "stderr: \(result.err)")
    }

    @Test func aRunFolderBeingWrittenRefusesASecondWriter() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        // This process stands in for the other writer: it holds the folder's lock as a training run does.
        let descriptor = open(run.path, O_RDONLY | O_DIRECTORY)
        #expect(descriptor >= 0 && flock(descriptor, LOCK_EX | LOCK_NB) == 0)
        let refused = try CommandLineTests.run(["train", "--data", "two-moons", "--iterations", "10", "--out", run.path])
        #expect(refused.status != 0)
        #expect(refused.err.contains("is being written by another steplab process"), "stderr: \(refused.err)")
        #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("config.json").path))
        flock(descriptor, LOCK_UN)
        close(descriptor)
        let allowed = try CommandLineTests.run(["train", "--data", "two-moons", "--iterations", "10", "--batch", "8", "--width", "8", "--out", run.path])
        #expect(allowed.status == 0, "\(allowed.err)")
    }
}
