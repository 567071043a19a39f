import Foundation
import Testing

/// The CLI round trip on a user's own CSV file, and the one-line errors for bad input.
@Suite struct TrainSampleEvalTests {
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("steplab-cli-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Points on two small blobs, written with a header as a user's CSV would be.
    static func writeBlobs(to url: URL) throws {
        var lines = ["x,y"]
        var state: UInt64 = 1
        for i in 0 ..< 2000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let u = Double(state >> 11) / Double(1 << 53), v = Double((state >> 20) & 0xFFFF) / 65536
            let (cx, cy) = i % 2 == 0 ? (3.0, 1.0) : (-1.0, -2.0)
            lines.append("\(cx + 0.3 * (u - 0.5)),\(cy + 0.3 * (v - 0.5))")
        }
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    @Test func trainSampleEvalRoundTripOnAUserCSV() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("blobs.csv"), run = folder.appendingPathComponent("run")
        try Self.writeBlobs(to: data)
        let train = try CommandLineTests.run(["train", "--method", "diffusion", "--data", data.path, "--out", run.path,
                                              "--iterations", "600", "--batch", "256", "--width", "64", "--depth", "2",
                                              "--log-every", "200", "--device", "0"])
        #expect(train.status == 0, "\(train.err)")
        // The resolved configuration is printed at the start (and saved).
        #expect(train.out.contains("config: ") && train.out.contains("iterations=600") && train.out.contains("width=64"), "\(train.out)")
        for file in ["config.json", "model.safetensors", "metrics.csv", "metrics.jsonl"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), "missing \(file)")
        }
        let log = try String(contentsOf: run.appendingPathComponent("metrics.csv"), encoding: .utf8)
        #expect(log.hasPrefix("step,loss,grad_norm,lr,wall_time\n"))
        // Points keep diffusion's rate and no clipping (images default to 1e-3 and clip 1).
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as? [String: Any]
        #expect((config?["learningRate"] as? Double).map { abs($0 - 2e-3) < 1e-9 } == true && config?["maxGradientNorm"] == nil)
        #expect(log.split(separator: "\n").count == 4)

        let samples = folder.appendingPathComponent("samples.npy")
        let sample = try CommandLineTests.run(["sample", "--run", run.path, "--count", "1000", "--steps", "32",
                                               "--out", samples.path, "--device", "0"])
        #expect(sample.status == 0, "\(sample.err)")
        let eval = try CommandLineTests.run(["eval", "--samples", samples.path, "--reference", data.path, "--json"])
        #expect(eval.status == 0, "\(eval.err)")
        let report = try JSONSerialization.jsonObject(with: Data(eval.out.utf8)) as? [String: [String: Double]]
        let swd = try #require(report?["samples"]?["swd"]), floor = try #require(report?["noise_floor"]?["swd"])
        // Samples in the data's own units: the blobs are 4 apart, so a model that learned nothing (or forgot to
        // undo the standardisation) scores an SWD near 1 or more. Measured after 600 steps: about 0.1.
        #expect(swd < 0.4, "SWD \(swd), noise floor \(floor)")
    }

    /// `--profile` ends the run with each kernel's device time per iteration: the step's batch (noise, times, input and
    /// target) and its loss are one launch each, so their rows say 1 launch a step.
    @Test func trainingWithProfileReportsKernelsPerIteration() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("blobs.csv"), run = folder.appendingPathComponent("run")
        try Self.writeBlobs(to: data)
        let train = try CommandLineTests.run(["train", "--method", "diffusion", "--data", data.path, "--out", run.path, "--iterations", "20",
                                              "--batch", "64", "--width", "16", "--depth", "1", "--profile", "--device", "0"])
        #expect(train.status == 0, "\(train.err)")
        let lines = train.out.split(separator: "\n").map(String.init)
        let start = try #require(lines.firstIndex { $0.hasPrefix("profile (device ") && $0.hasSuffix(", 20 iterations):") }, "\(train.out)")
        #expect(lines[start + 1].hasPrefix("per step: wall ") && lines[start + 1].contains(" launches"), "\(train.out)")
        for kernel in ["diffusion_batch", "weighted_loss"] {
            let row = try #require(lines.first { $0.hasPrefix("  \(kernel) ") }, "\(train.out)")
            #expect(row.hasSuffix("    1 launches/step"), "\(row)")
        }
    }

    @Test(arguments: [
        (["train", "--method", "nope", "--data", "checkerboard", "--out", "/tmp/x"], "unknown method 'nope'"),
        (["train", "--data", "no-such-set", "--out", "/tmp/x"], "unknown data set 'no-such-set'"),
        (["train", "--data", "checkerboard", "--out", "/tmp/x", "--batch", "0"], "--batch must be positive"),
        (["train", "--data", "checkerboard", "--out", "/tmp/x", "--arch", "unet3d"], "unknown --arch 'unet3d': use one of mlp, resmlp, unet, dit"),
        (["train", "--data", "/tmp/x.csv", "--out", "/tmp/x", "--channel-mult", "1,x"], "--channel-mult positive integers like 1,2,2"),
        (["train", "--data", "checkerboard", "--out", "/tmp/unet-on-points", "--arch", "unet"], "--arch unet needs image data"),
        (["train", "--data", "checkerboard", "--out", "/tmp/dit-on-points", "--arch", "dit"], "--arch dit needs image data"),
        (["train", "--data", "checkerboard", "--out", "/tmp/x", "--blocks", "0"], "--blocks must be positive (got 0)"),
        (["train", "--data", "checkerboard", "--out", "/tmp/x", "--lr-schedule", "step"], "unknown --lr-schedule 'step': use constant or cosine"),
        (["train", "--data", "checkerboard", "--out", "/tmp/x", "--lr=-1"], "--lr must be a positive number"),
        (["train", "--data", "checkerboard", "--out", "/tmp/x", "--segments", "0"], "--segments must be at least 1"),
        (["train", "--method", "ect", "--data", "checkerboard", "--out", "/tmp/x"],
         "--method ect tunes a trained diffusion model: pass --init RUN_DIR (an edm run)"),
        (["train", "--method", "meanflow", "--data", "checkerboard", "--out", "/tmp/x", "--segments", "4"],
         "--segments applies to mct and mcd, not to --method meanflow"),
        (["train", "--method", "meanflow", "--data", "checkerboard", "--out", "/tmp/x", "--teacher", "/tmp/t"],
         "--teacher applies to cd, mcd and scm; --method meanflow trains without one"),
        (["train", "--method", "meanflow", "--data", "checkerboard", "--out", "/tmp/meanflow-on-mlp", "--arch", "mlp"],
         "mlp reads one time at its input; 2 times need resmlp or unet"),
        (["train", "--method", "scm", "--data", "checkerboard", "--out", "/tmp/scm-on-mlp", "--arch", "mlp"],
         "mlp has no time MLP to carry a loss weighting: use resmlp"),
        (["train", "--method", "scm", "--data", "checkerboard", "--out", "/tmp/x", "--segments", "2"],
         "--segments applies to mct and mcd, not to --method scm"),
        (["train", "--method", "mcd", "--data", "checkerboard", "--out", "/tmp/x"], "needs --teacher"),
        (["train", "--data", "/nonexistent/points.csv", "--out", "/tmp/x"], "/nonexistent/points.csv"),
        (["sample", "--run", "/nonexistent-run", "--count", "5", "--out", "/tmp/s.csv"], "is not a StepLab run"),
        (["sample", "--run", "/tmp", "--count", "0", "--out", "/tmp/s.csv"], "--count must be positive"),
        (["eval", "--samples", "/nonexistent.csv", "--reference", "checkerboard"], "/nonexistent.csv"),
    ])
    func badInputIsOneClearLine(arguments: [String], phrase: String) throws {
        let result = try CommandLineTests.run(arguments)
        #expect(result.status != 0)
        #expect(result.err.contains(phrase), "stderr: \(result.err)")
        #expect(!result.err.contains("Fatal error") && !result.err.contains("Stack dump"))
    }

    @Test func anExistingRunIsNeverOverwritten() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = folder.appendingPathComponent("model.safetensors")
        try Data("precious".utf8).write(to: weights)
        let result = try CommandLineTests.run(["train", "--data", "checkerboard", "--out", folder.path, "--iterations", "1"])
        #expect(result.status != 0)
        #expect(result.err.contains("already holds a trained run"))
        #expect(try Data(contentsOf: weights) == Data("precious".utf8))
    }
}

/// Checkpoints and exact resume: counter-based random numbers make a resumed run bit-identical.
@Suite struct ResumeTests {
    static func columns(_ url: URL) throws -> [String] {
        // step, loss, grad_norm: everything but the lr and the wall time.
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",").prefix(3).joined(separator: ",") }
    }

    /// sCM from an edm run: tuned (`--init`, keeping the run's time scale so its weights mean the same) and distilled
    /// (`--teacher`), each sampled in two steps at the paper's intermediate time.
    @Test func scmStartsFromAndDistilsAnEDMRun() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (edm, tuned, distilled) = (folder.appendingPathComponent("edm"), folder.appendingPathComponent("tuned"),
                                       folder.appendingPathComponent("distilled"))
        let common = ["--data", "two-moons", "--batch", "64", "--width", "16", "--blocks", "1", "--device", "0"]
        let teacher = try CommandLineTests.run(["train", "--method", "edm", "--iterations", "60", "--out", edm.path] + common)
        #expect(teacher.status == 0, "\(teacher.err)")
        for (run, source) in [(tuned, "--init"), (distilled, "--teacher")] {
            let train = try CommandLineTests.run(["train", "--method", "scm", "--iterations", "30", "--out", run.path, source, edm.path] + common)
            #expect(train.status == 0, "\(source): \(train.err)")
            let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as? [String: Any])
            #expect(config["timeScale"] as? Double == (source == "--init" ? 1000 : 1), "\(source)")
            // The edm run embeds its time at 1000, far from the scale sCM trains well at: --init says so.
            #expect(train.out.contains("note: --init") == (source == "--init"), "\(source): \(train.out)")
            let out = run.appendingPathComponent("samples.csv")
            let sample = try CommandLineTests.run(["sample", "--run", run.path, "--steps", "2", "--count", "64", "--device", "0", "--out", out.path])
            #expect(sample.status == 0 && sample.out.contains("scm, 2.00 network evaluations"), "\(source): \(sample.err)")
        }
        // ECT keeps the run's scale too, with the same note; with --time-scale given, the user has chosen and no note.
        for extra in [[], ["--time-scale", "1000"]] {
            let ect = folder.appendingPathComponent("ect\(extra.count)")
            let train = try CommandLineTests.run(["train", "--method", "ect", "--iterations", "4", "--out", ect.path, "--init", edm.path] + extra + common)
            #expect(train.status == 0, "\(train.err)")
            #expect(train.out.contains("note: --init") == extra.isEmpty, "\(extra): \(train.out)")
        }
    }

    @Test(arguments: ["diffusion", "mct", "meanflow", "shortcut", "scm"])
    func aStoppedAndResumedRunEndsBitIdentical(method: String) throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let common = ["--method", method, "--data", "two-moons", "--iterations", "300", "--batch", "128", "--width", "32",
                      "--depth", "2", "--log-every", "50", "--checkpoint-every", "100", "--device", "0"]
        let straight = folder.appendingPathComponent("straight"), resumed = folder.appendingPathComponent("resumed")
        let a = try CommandLineTests.run(["train", "--out", straight.path] + common)
        #expect(a.status == 0, "\(a.err)")
        // Stop at step 250 (after the 200 checkpoint and after logging 250), then resume from that checkpoint.
        let b = try CommandLineTests.run(["train", "--out", resumed.path, "--stop-after", "250"] + common)
        #expect(b.status == 0 && b.out.contains("continue with: steplab train --resume"), "\(b.err)")
        #expect(!FileManager.default.fileExists(atPath: resumed.appendingPathComponent("model.safetensors").path))
        let c = try CommandLineTests.run(["train", "--resume", resumed.path])
        #expect(c.status == 0, "\(c.err)")
        #expect(c.out.contains("resuming"))
        let weightsA = try Data(contentsOf: straight.appendingPathComponent("model.safetensors"))
        let weightsB = try Data(contentsOf: resumed.appendingPathComponent("model.safetensors"))
        #expect(weightsA == weightsB, "final weights differ after resume")
        #expect(try Self.columns(straight.appendingPathComponent("metrics.csv")) == Self.columns(resumed.appendingPathComponent("metrics.csv")))
    }

    /// A run stopped before its first checkpoint holds only its config.json: resuming starts it again from step 0 and
    /// ends as the uninterrupted run does.
    @Test func aRunStoppedBeforeItsFirstCheckpointStartsAgain() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let straight = folder.appendingPathComponent("straight"), stopped = folder.appendingPathComponent("stopped")
        let a = try CommandLineTests.run(["train", "--method", "diffusion", "--data", "two-moons", "--iterations", "40", "--batch", "16",
                                          "--width", "8", "--blocks", "1", "--out", straight.path, "--device", "0"])
        #expect(a.status == 0, "\(a.err)")
        try FileManager.default.createDirectory(at: stopped, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: straight.appendingPathComponent("config.json"), to: stopped.appendingPathComponent("config.json"))
        let b = try CommandLineTests.run(["train", "--resume", stopped.path, "--device", "0"])
        #expect(b.status == 0, "\(b.err)")
        #expect(b.out.contains("stopped before its first checkpoint; starting it again from step 0"), "\(b.out)")
        let weightsA = try Data(contentsOf: straight.appendingPathComponent("model.safetensors"))
        let weightsB = try Data(contentsOf: stopped.appendingPathComponent("model.safetensors"))
        #expect(weightsA == weightsB, "the restarted run's weights differ from the uninterrupted run's")
    }
}

@Suite struct KillAndResumeTests {
    @Test func sigkillAtRandomMomentsThenResumeMatchesAnUninterruptedRun() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let common = ["--method", "mct", "--data", "eight-gaussians", "--iterations", "600", "--batch", "128", "--width", "32",
                      "--depth", "2", "--log-every", "50", "--checkpoint-every", "25", "--device", "0"]
        let straight = folder.appendingPathComponent("straight")
        #expect(try CommandLineTests.run(["train", "--out", straight.path] + common).status == 0)
        let reference = try Data(contentsOf: straight.appendingPathComponent("model.safetensors"))
        var state: UInt64 = 0x5EED
        for attempt in 0 ..< 2 {
            let run = folder.appendingPathComponent("killed-\(attempt)")
            let process = Process()
            process.executableURL = CommandLineTests.binary
            process.arguments = ["train", "--out", run.path] + common
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Kill at a random moment after the first checkpoint exists.
            let firstCheckpoint = run.appendingPathComponent("checkpoint-000000025.safetensors")
            let deadline = Date().addingTimeInterval(60)
            while !FileManager.default.fileExists(atPath: firstCheckpoint.path) && process.isRunning && Date() < deadline { usleep(5_000) }
            state = state &* 6364136223846793005 &+ 1442695040888963407
            usleep(useconds_t(state >> 40) % 1_500_000)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let resumed = try CommandLineTests.run(["train", "--resume", run.path])
            #expect(resumed.status == 0, "attempt \(attempt): \(resumed.err)")
            #expect(try Data(contentsOf: run.appendingPathComponent("model.safetensors")) == reference, "attempt \(attempt): weights differ")
        }
    }
}
