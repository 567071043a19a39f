import Foundation
import Testing

/// A PyTorch user rebuilds a StepLab network from its run folder alone (bench/pytorch/steplab_networks.py reads the
/// checkpoint's tensors and the configuration in its metadata) and gets the samples `steplab sample --noise` gives.
@Suite struct PyTorchCheckpointTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bench/pytorch/steplab_sample.py")

    /// python3 with torch, safetensors and numpy.
    static let available: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import torch, safetensors.numpy, numpy"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    static func csv(_ url: URL) throws -> [Double] {
        try String(contentsOf: url, encoding: .utf8).split(whereSeparator: { $0 == "\n" || $0 == "," })
            .compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    }

    @Test(.enabled(if: available, "needs python3 with torch, safetensors and numpy"), arguments: ["mlp", "resmlp"])
    func pytorchReproducesStepLabsSamples(arch: String) throws {
        try compare(["--data", "two-moons", "--arch", arch, "--width", "16", "--depth", "2", "--blocks", "2"], dimension: 2, count: 50)
    }

    /// The U-Net (a small one) on images, without the x-prediction clamp (the PyTorch sampler has none); and one with
    /// attention of two heads (64 channels at the lowest level) in the middle.
    @Test(.enabled(if: available && FashionMNISTCommandTests.installed, "needs python3 with torch and dataset-fashion-mnist"),
          arguments: [["--channel-mult", "1,2"], ["--channel-mult", "1,8", "--attention"]])
    func pytorchReproducesAUNetsSamples(levels: [String]) throws {
        try compare(["--data", "fashion-mnist", "--arch", "unet", "--channels", "8"] + levels, dimension: 784,
                    count: 4, sampling: ["--clip", "0"])
    }

    /// A small DiT (16 tokens of 7x7 patches, one head).
    @Test(.enabled(if: available && FashionMNISTCommandTests.installed, "needs python3 with torch and dataset-fashion-mnist"))
    func pytorchReproducesADiTsSamples() throws {
        try compare(["--data", "fashion-mnist", "--arch", "dit", "--width", "16", "--blocks", "1", "--patch", "7"], dimension: 784,
                    count: 4, sampling: ["--clip", "0"])
    }

    func compare(_ network: [String], dimension: Int, count: Int, sampling: [String] = []) throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        let train = try CommandLineTests.run(["train", "--method", "diffusion"] + network + ["--iterations", "60", "--batch", "32",
                                              "--out", run.path, "--device", "0"])
        #expect(train.status == 0, "\(train.err)")
        var random = SystemRandomNumberGenerator()
        let noise = (0 ..< count).map { _ in
            (0 ..< dimension).map { _ in String(Double.random(in: -2.5 ... 2.5, using: &random)) }.joined(separator: ",")
        }.joined(separator: "\n")
        let noiseURL = folder.appendingPathComponent("noise.csv")
        try noise.write(to: noiseURL, atomically: true, encoding: .utf8)
        let ours = folder.appendingPathComponent("steplab.csv"), theirs = folder.appendingPathComponent("torch.csv")
        let sample = try CommandLineTests.run(["sample", "--run", run.path, "--noise", noiseURL.path, "--count", String(count),
                                               "--steps", "4", "--out", ours.path, "--device", "0"] + sampling)
        #expect(sample.status == 0, "\(sample.err)")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-B", Self.script.path, run.path, "--noise", noiseURL.path, "--steps", "4", "--out", theirs.path]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(message)")

        let a = try Self.csv(ours), b = try Self.csv(theirs)
        #expect(a.count == count * dimension && b.count == count * dimension)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4, "largest difference \(worst)")
    }
}
