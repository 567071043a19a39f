import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabTestSupport
import Testing
@testable import StepLabGenerative

/// StepLab's `Network.jvp` against `torch.func.jvp` on the PyTorch twin of the same weights and run configuration
/// (bench/pytorch/steplab_networks.py rebuilds the network from the checkpoint, bench/pytorch/steplab_jvp.py differentiates it).
@Suite struct TorchJVPTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bench/pytorch/steplab_jvp.py")

    /// python3 with torch (torch.func), safetensors and numpy.
    static let available: Bool = (try? PythonSafetensors.run("import torch.func, safetensors.numpy, numpy")) != nil

    static func config(_ architecture: NetworkArchitecture, times: Int) -> RunConfig {
        var config = RunConfig(method: .diffusion, data: "two-moons", dimension: 2, mean: [0, 0], std: [1, 1], iterations: 1, batch: 4,
                               width: 16, depth: 2, learningRate: 1e-3, emaDecay: 0.999, seed: 1, segments: 1, teacher: nil,
                               initFrom: nil, annealSteps: 1, maxGradientNorm: nil)
        config.architecture = architecture
        config.blocks = 2
        config.frequencies = 4
        // t's tangent enters at timeScale times its size; at the default 1000 the float32 cancellation of those large
        // terms, not the rules, sets the differences (3e-4 relative on the resmlp), so the rules are checked at 3.
        config.timeScale = 3
        config.timeInputs = times == 1 ? nil : times
        if architecture == .unet || architecture == .dit {
            // Two levels and two-head attention (16 channels at the lowest level): every op's tangent rule.
            if architecture == .unet {
                config.unet = UNetShape(height: 4, width: 4, imageChannels: 1, channels: 8, channelMult: [1, 2], groups: 4, attentionHeads: 2)
            } else {
                config.dit = DiTShape(height: 4, width: 4, imageChannels: 1, patch: 2, heads: 2)
            }
            config.dimension = 16
            config.mean = [Float](repeating: 0, count: 16)
            config.std = [Float](repeating: 1, count: 16)
        }
        return config
    }

    /// resmlp on one time and on two (MeanFlow's (r, t)); the U-Net with attention and the DiT on one.
    @Test(.enabled(if: available, "needs python3 with torch, safetensors and numpy"),
          arguments: [(NetworkArchitecture.resmlp, 1), (.resmlp, 2), (.unet, 1), (.dit, 1)])
    func torchFuncJVPAgrees(architecture: NetworkArchitecture, times: Int) throws {
        try SharedEngine.withEngine { engine in
            let config = Self.config(architecture, times: times)
            let model = try Denoiser(engine: engine, config: config.denoiser, seed: 3)
            var random = TestRandom(seed: 17)
            // Every weight away from zero, so the zero-initialised layers do not hide the rest.
            try model.parameters.values.upload(random.array(model.parameters.count, -0.4, 0.4))
            let (batch, inputs) = (3, model.network.inputs)
            let x = random.array(batch * inputs, -2, 2), dx = random.array(batch * inputs)
            let t = random.array(batch * times, 0.1, 0.9), dt = random.array(batch * times)
            let (output, tangent) = try model.network.jvp(engine.tensor(x, rows: batch, columns: inputs),
                                                          tangent: engine.tensor(dx, rows: batch, columns: inputs),
                                                          time: engine.tensor(t, rows: batch, columns: times),
                                                          timeTangent: engine.tensor(dt, rows: batch, columns: times), tape: model.makeTape())
            let (ours, ourTangent) = (try output.download(), try tangent.download())

            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("steplab-jvp-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let weights = folder.appendingPathComponent("model.safetensors"), inputsURL = folder.appendingPathComponent("in.csv")
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            try SafeTensors.write(model.parameters.safeTensors(prefix: "raw/"),
                                  metadata: ["config": String(decoding: try encoder.encode(config), as: UTF8.self)], to: weights)
            let rows = (0 ..< batch).map { r in
                (Array(x[r * inputs ..< (r + 1) * inputs]) + Array(dx[r * inputs ..< (r + 1) * inputs])
                    + Array(t[r * times ..< (r + 1) * times]) + Array(dt[r * times ..< (r + 1) * times]))
                    .map { String($0) }.joined(separator: ",")
            }
            try rows.joined(separator: "\n").write(to: inputsURL, atomically: true, encoding: .utf8)
            let out = folder.appendingPathComponent("out.csv")
            _ = try PythonSafetensors.run("import runpy, sys; sys.path.insert(0, sys.argv[1]); sys.argv = sys.argv[2:]; "
                                          + "runpy.run_path(sys.argv[0], run_name='__main__')",
                                          arguments: [Self.script.deletingLastPathComponent().path, Self.script.path, weights.path,
                                                      "--inputs", inputsURL.path, "--out", out.path])
            let theirs = try String(contentsOf: out, encoding: .utf8).split(whereSeparator: \.isNewline).map {
                $0.split(separator: ",").map { Float(Double($0)!) }
            }
            let outputs = model.network.outputs
            #expect(theirs.count == batch)
            expectClose(ours, theirs.flatMap { $0.prefix(outputs) }, rtol: 1e-4, atol: 1e-4, "output")
            expectClose(ourTangent, theirs.flatMap { $0.suffix(outputs) }, rtol: 1e-4, atol: 1e-4, "tangent")
            #expect(ourTangent.contains { abs($0) > 1e-2 }, "a tangent far from zero")
        }
    }
}
