import Foundation
import OpenCLKit
import StepLabEngine
import StepLabGenerative

/// The cost of a network's forward-mode JVP (`Network.jvp`: the output and its derivative along (ẋ, ṫ) in one pass)
/// against a plain forward pass of the same network and batch, at the study's sizes: the resmlp of width 128 with 3
/// blocks at batch 256, and the U-Net 32/64/64 on 28x28 images at batch 64 (`TrainStepBench`'s networks).
struct JVPResult: Codable {
    var architecture: String
    var width: Int
    var batch: Int
    var forwardMilliseconds: Double
    var jvpMilliseconds: Double
    /// jvp / forward.
    var ratio: Double

    enum CodingKeys: String, CodingKey {
        case architecture, width, batch, ratio
        case forwardMilliseconds = "forward_ms"
        case jvpMilliseconds = "jvp_ms"
    }
}

enum JVPBench {
    static let workloads: [(NetworkArchitecture, Int, Int)] = [(.resmlp, 128, 256), (.unet, 0, 64)]

    /// `short`: the resmlp only (a U-Net pass costs a CPU about a second, ten per timed call).
    static func run(engine: Engine, seconds: Double, short: Bool = false) throws -> [JVPResult] {
        try workloads.filter { !short || $0.0 != .unet }.map { architecture, width, batch in
            let model = try Denoiser(engine: engine, config: TrainStepBench.denoiser(architecture, width: width), seed: 0)
            let network = model.network
            var random = SplitMix(seed: 3)
            func tensor(_ columns: Int) throws -> Tensor {
                try engine.tensor((0 ..< batch * columns).map { _ in random.nextFloat() }, rows: batch, columns: columns)
            }
            let (x, dx, t, dt) = (try tensor(network.inputs), try tensor(network.inputs), try tensor(1), try tensor(1))
            let tape = network.makeTape()
            // Several passes per timed call, synchronised once, as a sampling or training loop runs them.
            let forward = try secondsPerCall(warmup: 3, minSeconds: seconds) {
                for _ in 0 ..< 10 { try network.run(x, time: t, tape: tape, recording: false) }
                try engine.synchronize()
            } / 10
            let jvp = try secondsPerCall(warmup: 3, minSeconds: seconds) {
                for _ in 0 ..< 10 { _ = try network.jvp(x, tangent: dx, time: t, timeTangent: dt, tape: tape) }
                try engine.synchronize()
            } / 10
            return JVPResult(architecture: architecture.rawValue, width: width, batch: batch, forwardMilliseconds: forward * 1e3,
                             jvpMilliseconds: jvp * 1e3, ratio: jvp / forward)
        }
    }

    /// One line per workload.
    static func lines(_ results: [JVPResult]) -> [String] {
        results.map { r in
            let network = r.architecture == "unet" ? "unet  32/64/64" : String(format: "%@ width %d", r.architecture, r.width)
            return String(format: "  %@ batch %d: forward %.2f ms, jvp %.2f ms (x%.2f)", network, r.batch, r.forwardMilliseconds,
                          r.jvpMilliseconds, r.ratio)
        }
    }
}
