import Foundation
import Testing

/// Bad input that meets a trained run, a device or the file system: each is a non-zero exit with one clear line,
/// and no file that existed before is changed.
@Suite struct BadRunInputTests {
    static let tiny = ["--method", "diffusion", "--data", "two-moons", "--iterations", "20", "--batch", "16", "--depth", "1",
                       "--checkpoint-every", "10", "--log-every", "10", "--device", "0"]

    static func train(_ run: URL, width: Int) throws {
        let result = try CommandLineTests.run(["train", "--out", run.path, "--width", String(width)] + tiny)
        #expect(result.status == 0, "\(result.err)")
    }

    /// Every file under `folder` with its bytes, to show a failed command changed nothing.
    static func snapshot(_ folder: URL) throws -> [String: Data] {
        let names = FileManager.default.subpaths(atPath: folder.path) ?? []
        var files: [String: Data] = [:]
        for name in names {
            var isDirectory: ObjCBool = false
            let url = folder.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[name] = try Data(contentsOf: url)
            }
        }
        return files
    }

    static func expectOneLineError(_ result: (status: Int32, out: String, err: String), _ phrases: String...) {
        #expect(result.status != 0)
        #expect(result.err.split(separator: "\n").count == 1, "stderr: \(result.err)")
        for phrase in phrases { #expect(result.err.contains(phrase), "stderr: \(result.err)") }
        #expect(!result.err.contains("Fatal error") && !result.err.contains("Stack dump"))
    }

    /// A run folder written before `resmlp` existed has no architecture in its config.json: it is an mlp, and
    /// loads as one; mlp weights under a resmlp configuration name the first tensor that differs.
    @Test func runFoldersWithoutAnArchitectureAreMLPs() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let old = folder.appendingPathComponent("old")
        let result = try CommandLineTests.run(["train", "--out", old.path, "--arch", "mlp", "--width", "8"] + Self.tiny)
        #expect(result.status == 0, "\(result.err)")
        let configURL = old.appendingPathComponent("config.json")
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        #expect(config["architecture"] as? String == "mlp")
        config["architecture"] = nil
        config["blocks"] = nil
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        let sample = try CommandLineTests.run(["sample", "--run", old.path, "--count", "10", "--device", "0",
                                               "--out", folder.appendingPathComponent("s.csv").path])
        #expect(sample.status == 0, "\(sample.err)")

        config["architecture"] = "resmlp"
        config["blocks"] = 1
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        let mismatched = try CommandLineTests.run(["sample", "--run", old.path, "--count", "10", "--device", "0",
                                                   "--out", folder.appendingPathComponent("s2.csv").path])
        Self.expectOneLineError(mismatched, "does not fit the architecture in config.json", "parameter time.0.weight is missing")
    }

    /// sCM starts from (`--init`) or distils (`--teacher`) an edm run: it cannot convert a VP run, and says so in one line.
    @Test func scmRefusesAVPRun() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let vp = folder.appendingPathComponent("vp"), scm = folder.appendingPathComponent("scm")
        try Self.train(vp, width: 8)
        let before = try Self.snapshot(folder)
        let common = ["train", "--method", "scm", "--data", "two-moons", "--iterations", "5", "--batch", "16", "--width", "8", "--depth", "1",
                      "--device", "0", "--out", scm.path]
        Self.expectOneLineError(try CommandLineTests.run(common + ["--init", vp.path]),
                                "--init \(vp.path) was trained with --method diffusion in the VP schedule; scm works in EDM sigma space",
                                "(an edm run)")
        Self.expectOneLineError(try CommandLineTests.run(common + ["--teacher", vp.path]),
                                "--teacher \(vp.path) was trained with --method diffusion; scm distils from a run of --method edm")
        #expect(try Self.snapshot(folder) == before)
    }

    @Test func weightsAndCheckpointsOfAnotherArchitectureAreRefused() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let narrow = folder.appendingPathComponent("narrow"), wide = folder.appendingPathComponent("wide")
        try Self.train(narrow, width: 8)
        try Self.train(wide, width: 16)
        let manager = FileManager.default

        // sample: a width-8 config beside width-16 weights.
        let mixed = folder.appendingPathComponent("mixed")
        try manager.createDirectory(at: mixed, withIntermediateDirectories: true)
        try manager.copyItem(at: narrow.appendingPathComponent("config.json"), to: mixed.appendingPathComponent("config.json"))
        try manager.copyItem(at: wide.appendingPathComponent("model.safetensors"), to: mixed.appendingPathComponent("model.safetensors"))
        try Data("precious".utf8).write(to: mixed.appendingPathComponent("samples.csv"))
        var before = try Self.snapshot(folder)
        let sample = try CommandLineTests.run(["sample", "--run", mixed.path, "--count", "10", "--device", "0",
                                               "--out", mixed.appendingPathComponent("samples.csv").path])
        Self.expectOneLineError(sample, "model.safetensors does not fit the architecture in config.json")
        #expect(try Self.snapshot(folder) == before)

        // train --init from a width-16 run into a width-8 one.
        let initialised = folder.appendingPathComponent("initialised")
        let initRun = try CommandLineTests.run(["train", "--out", initialised.path, "--init", wide.path, "--width", "8"] + Self.tiny)
        Self.expectOneLineError(initRun, "--init \(wide.path) has a different architecture (resmlp 16x3 blocks")
        #expect(try Self.snapshot(folder) == before)

        // train --resume of a width-8 run whose newest checkpoint came from the width-16 run.
        let resumable = folder.appendingPathComponent("resumable")
        try manager.createDirectory(at: resumable, withIntermediateDirectories: true)
        try manager.copyItem(at: narrow.appendingPathComponent("config.json"), to: resumable.appendingPathComponent("config.json"))
        try manager.copyItem(at: wide.appendingPathComponent("checkpoint-000000010.safetensors"),
                             to: resumable.appendingPathComponent("checkpoint-000000010.safetensors"))
        before = try Self.snapshot(folder)
        let resume = try CommandLineTests.run(["train", "--resume", resumable.path])
        Self.expectOneLineError(resume, "checkpoint-000000010.safetensors holds", "this run's architecture has")
        #expect(try Self.snapshot(folder) == before)
    }

    @Test func badSampleOptionsAndUnwritableOutputsAreRefused() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        try Self.train(run, width: 8)
        // A regular file where a folder should be: unwritable even for root, which chmod would not stop.
        let file = folder.appendingPathComponent("a-file")
        try Data("precious".utf8).write(to: file)
        let samples = folder.appendingPathComponent("samples.csv")
        try Data("precious".utf8).write(to: samples)
        let before = try Self.snapshot(folder)
        let sample = ["sample", "--run", run.path, "--count", "10"]
        let cases: [([String], [String])] = [
            (sample + ["--out", samples.path, "--steps", "5000"], ["--steps 5000 is beyond the schedule (at most 4096)"]),
            (sample + ["--out", samples.path, "--sampler", "nope"], ["sampler 'nope' does not fit a diffusion model", "ddim"]),
            (sample + ["--out", samples.path, "--clip=-1"], ["--clip must be 0 (off) or positive (got -1.0)"]),
            (sample + ["--out", samples.path, "--device", "no-such-device-xyz"], ["no OpenCL device matches 'no-such-device-xyz'"]),
            (sample + ["--out", file.appendingPathComponent("s.csv").path, "--device", "0"], ["cannot write", "a-file/s.csv"]),
            (["train", "--data", "two-moons", "--out", file.appendingPathComponent("run").path, "--iterations", "1"],
             ["cannot write to \(file.path)/run: \(file.path) is a file, not a folder"]),
            (["train", "--data", "two-moons", "--out", folder.appendingPathComponent("new").path, "--iterations", "1",
              "--device", "no-such-device-xyz"], ["no OpenCL device matches 'no-such-device-xyz'"]),
        ]
        for (arguments, phrases) in cases {
            let result = try CommandLineTests.run(arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.err.split(separator: "\n").count == 1, "\(arguments): \(result.err)")
            for phrase in phrases { #expect(result.err.contains(phrase), "\(arguments): \(result.err)") }
            #expect(!result.err.contains("Fatal error") && !result.err.contains("Stack dump"))
        }
        // The refused training run may have made its empty folder, nothing in it.
        #expect(try Self.snapshot(folder) == before)

        let plot = try CommandLineTests.run(sample + ["--out", folder.appendingPathComponent("fresh.csv").path, "--device", "0",
                                                      "--plot", file.appendingPathComponent("plot.png").path])
        Self.expectOneLineError(plot, "cannot write \(file.path)/plot.png", "Not a directory")
        #expect(try Data(contentsOf: file) == Data("precious".utf8))
    }

    /// Bad data files at the command line (the readers' own tests cover each rule; this covers the CLI's line).
    @Test(arguments: [
        ("ragged.csv", Data("1,2\n3,4,5\n".utf8), "ragged row"),
        ("nan.csv", Data("x,y\n1,2\nnan,4\n".utf8), "not finite"),
        ("words.csv", Data("1,2\n3,abc\n".utf8), "'abc' is not a number"),
        ("empty.csv", Data(), "empty file"),
        ("half.npy", BadRunInputTests.npy(descr: "<f2", fortran: false), "unsupported dtype '<f2'"),
        ("fortran.npy", BadRunInputTests.npy(descr: "<f4", fortran: true), "fortran_order is True"),
    ])
    func badDataFilesAreOneLineAndCreateNoRun(name: String, contents: Data, phrase: String) throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent(name), run = folder.appendingPathComponent("run")
        try contents.write(to: data)
        let result = try CommandLineTests.run(["train", "--data", data.path, "--out", run.path, "--iterations", "1"])
        Self.expectOneLineError(result, name, phrase)
        #expect(!FileManager.default.fileExists(atPath: run.path))
    }

    /// A 3 x 2 NPY file (version 1.0) with the given dtype and order.
    static func npy(descr: String, fortran: Bool) -> Data {
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': (3, 2), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8) + [UInt8](repeating: 0, count: 6 * 4)
        return Data(bytes)
    }
}
