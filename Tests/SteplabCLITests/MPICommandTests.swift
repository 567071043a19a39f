import Foundation
import Testing

/// `mpirun -np 2 steplab train`: two ranks of one CPU device each (POCL), against the single process with the same
/// device twice (`--devices 0,0`), which sums the two replicas' gradients in the same order.
@Suite(.serialized) struct MPICommandTests {
    static let mpirun: String? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let common = ["train", "--method", "diffusion", "--data", "two-moons", "--batch", "64", "--width", "16", "--blocks", "2",
                         "--log-every", "10", "--checkpoint-every", "20", "--device", "0"]

    /// `mpirun -np ranks steplab arguments` (as root, oversubscribed: CI runs as root on 2 cores).
    static func launch(ranks: Int, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun!)
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", String(ranks), CommandLineTests.binary.path] + arguments
        // One POCL thread per rank, so two ranks on 2 cores do not fight over them.
        process.environment = ProcessInfo.processInfo.environment.merging(["POCL_MAX_PTHREAD_COUNT": "1", "OMPI_MCA_btl_vader_single_copy_mechanism": "none"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func run(ranks: Int, _ arguments: [String]) throws -> Int32 {
        let process = try launch(ranks: ranks, arguments)
        process.waitUntilExit()
        return process.terminationStatus
    }

    static func weights(_ run: URL) throws -> Data { try Data(contentsOf: run.appendingPathComponent("model.safetensors")) }

    /// The process ids of the `steplab` ranks training into `folder` (not mpirun, whose arguments name it too).
    static func ranks(writing folder: URL) -> [Int32] {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap(Int32.init) ?? []
        return ids.filter { id in
            guard let data = FileManager.default.contents(atPath: "/proc/\(id)/cmdline") else { return false }
            let argv = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return argv.first.map { $0.hasSuffix("/steplab") } == true && argv.contains(folder.path)
        }
    }

    @Test(.enabled(if: mpirun != nil, "mpirun not installed (scripts/install-opencl.sh installs Open MPI)"))
    func twoRanksRepeatToTheByteAndEqualOneProcessWithTwoDevices() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (a, b, local) = (folder.appendingPathComponent("a"), folder.appendingPathComponent("b"), folder.appendingPathComponent("local"))
        #expect(try Self.run(ranks: 2, Self.common + ["--iterations", "40", "--out", a.path]) == 0)
        #expect(try Self.run(ranks: 2, Self.common + ["--iterations", "40", "--out", b.path]) == 0)
        #expect(try Self.weights(a) == Self.weights(b), "two 2-rank runs differ")
        // Buckets reduced during the backward (the default, with buckets of a few parameters here) and the whole vector after it.
        let (small, whole) = (folder.appendingPathComponent("small"), folder.appendingPathComponent("whole"))
        #expect(try Self.run(ranks: 2, Self.common + ["--iterations", "40", "--out", small.path, "--gradient-buckets", "300"]) == 0)
        #expect(try Self.run(ranks: 2, Self.common + ["--iterations", "40", "--out", whole.path, "--gradient-buckets", "0"]) == 0)
        #expect(try Self.weights(a) == Self.weights(small) && Self.weights(a) == Self.weights(whole), "bucketed and whole-vector reductions differ")
        let single = try CommandLineTests.run(Self.common.dropLast(2) + ["--iterations", "40", "--out", local.path, "--devices", "0,0"])
        #expect(single.status == 0, "\(single.err)")
        #expect(try Self.weights(a) == Self.weights(local), "2 ranks and 2 devices in one process differ")
        // One process on one device: the same step up to float summation order (samples from the same noise).
        let one = folder.appendingPathComponent("one")
        #expect(try CommandLineTests.run(Self.common + ["--iterations", "40", "--out", one.path]).status == 0)
        let (ranked, alone) = (try DataParallelCommandTests.samples(a), try DataParallelCommandTests.samples(one))
        let worst = zip(ranked, alone).map { abs($0 - $1) }.max() ?? .infinity
        #expect(ranked.count == 128 && worst < 0.02, "2-rank and 1-device samples differ by \(worst)")
        // Only rank 0 wrote: one metrics file with each step once, and its losses are the whole job's, as one process logs them.
        let steps = try String(contentsOf: a.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",")[0] }
        #expect(steps == ["10", "20", "30", "40"])
        #expect(try ResumeTests.columns(a.appendingPathComponent("metrics.csv")) == ResumeTests.columns(local.appendingPathComponent("metrics.csv")))
    }

    @Test(.enabled(if: mpirun != nil, "mpirun not installed"))
    func aKilledRankStopsTheOtherAndTheRunResumesToTheSameBytes() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (straight, killed) = (folder.appendingPathComponent("straight"), folder.appendingPathComponent("killed"))
        #expect(try Self.run(ranks: 2, Self.common + ["--iterations", "400", "--out", straight.path]) == 0)

        let job = try Self.launch(ranks: 2, Self.common + ["--iterations", "400", "--out", killed.path])
        // Once the first checkpoint exists, SIGKILL rank 1 mid-run.
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: killed.appendingPathComponent("checkpoint-000000020.safetensors").path), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let ranks = Self.ranks(writing: killed)
        #expect(ranks.count == 2, "found ranks \(ranks)")
        if let victim = ranks.max() { kill(victim, SIGKILL) }
        let killedAt = Date()
        job.waitUntilExit()
        #expect(job.terminationStatus != 0)
        #expect(Date().timeIntervalSince(killedAt) < 60, "the surviving rank took too long to stop")
        #expect(!FileManager.default.fileExists(atPath: killed.appendingPathComponent("model.safetensors").path))

        #expect(try Self.run(ranks: 2, ["train", "--resume", killed.path, "--device", "0"]) == 0)
        #expect(try Self.weights(killed) == Self.weights(straight), "the resumed 2-rank run differs from the uninterrupted one")
    }

    /// An MPMD launch (`-np 1 A : -np 1 B`): rank 0 runs `steplab first`, rank 1 `steplab second`; the exit status and
    /// standard error.
    static func mpmd(_ first: [String], _ second: [String]) throws -> (status: Int32, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun!)
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "1", CommandLineTests.binary.path] + first
            + [":", "-np", "1", CommandLineTests.binary.path] + second
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test(.enabled(if: mpirun != nil, "mpirun not installed"))
    func ranksWithDifferentDeviceCountsStopWithOneLine() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let arguments = Array(Self.common.dropLast(2)) + ["--iterations", "5", "--out", folder.appendingPathComponent("run").path]
        let result = try Self.mpmd(arguments + ["--device", "0"], arguments + ["--devices", "0,0"])
        #expect(result.status != 0)
        #expect(result.err.contains("rank 1 drives 2 device(s) and rank 0 drives 1"), "\(result.err)")
    }

    @Test(.enabled(if: mpirun != nil, "mpirun not installed"))
    func ranksWithDifferentConfigurationsStopWithOneLine() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // Rank 1 gets another learning rate.
        let arguments = Self.common + ["--iterations", "5", "--out", folder.appendingPathComponent("run").path]
        let result = try Self.mpmd(arguments, arguments + ["--lr", "0.5"])
        #expect(result.status != 0)
        #expect(result.err.contains("rank 1 was started with a different configuration from rank 0"), "\(result.err)")
    }
}
