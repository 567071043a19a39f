import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// The reference training workload: eps-prediction diffusion on eight Gaussians (centres at radius 2, angles
/// k pi / 4, std 0.1), t ~ U(0, 1) on the VP cosine schedule, network input [z, emb(t)] with 8 frequencies and
/// t scaled by 1000, unweighted squared error against eps, AdamW lr 1e-3 without weight decay or EMA, float32,
/// batch 4096; the network is an MLP 18-256-256-256-2 with SiLU (`mlp`), or a `resmlp` of width 256 with 3 blocks.
/// The image workload (`unet`) is the same step on 28x28 grey images (uniform noise in [-1, 1]: the time of a step
/// does not depend on the pixels) with the U-Net of channels 32/64/64, one block per level, at batch 64.
/// Reported as steady-state steps per second (`bench/pytorch/pytorch_reference.py` runs the same in PyTorch).
struct TrainStepResult: Codable {
    var architecture = "mlp"
    var width: Int
    var batch: Int
    var stepsPerSecond: Double
    var milliseconds: Double
    var finalLoss: Float
    var pytorchStepsPerSecond: Double?
    var pytorchCompileStepsPerSecond: Double?
    /// Peak bytes of StepLab's device buffers during the workload (model, optimizer state, batch workspaces).
    var deviceBytes: Int = 0
    /// Peak resident host memory of the bench process during the workload (nil where it cannot be reset).
    var hostPeakBytes: Int?
    /// Peak resident memory of the PyTorch eager process while it ran this workload (interpreter included).
    var pytorchPeakBytes: Int?
    /// Each round's figure, in order (`stepsPerSecond` is the median round); nil where PyTorch failed that round.
    var roundStepsPerSecond: [Double] = []
    var pytorchRoundStepsPerSecond: [Double?]?
    var pytorchCompileRoundStepsPerSecond: [Double?]?

    enum CodingKeys: String, CodingKey {
        case deviceBytes = "device_bytes", hostPeakBytes = "host_peak_bytes", pytorchPeakBytes = "pytorch_peak_bytes"
        case architecture, width, batch
        case stepsPerSecond = "steps_per_s"
        case milliseconds = "ms_per_step"
        case finalLoss = "final_loss"
        case pytorchStepsPerSecond = "pytorch_steps_per_s"
        case pytorchCompileStepsPerSecond = "pytorch_compile_steps_per_s"
        case roundStepsPerSecond = "round_steps_per_s"
        case pytorchRoundStepsPerSecond = "pytorch_round_steps_per_s"
        case pytorchCompileRoundStepsPerSecond = "pytorch_compile_round_steps_per_s"
    }
}

enum TrainStepBench {
    /// The image workload's images.
    static let imageShape = UNetShape(height: 28, width: 28, imageChannels: 1)

    /// The workload's network: `width` sizes the MLPs (the unet's channels are `imageShape`'s).
    static func denoiser(_ architecture: NetworkArchitecture, width: Int) -> DenoiserConfig {
        let unet = architecture == .unet ? imageShape : nil
        return DenoiserConfig(dimension: unet?.dimension ?? 2, architecture: architecture, frequencies: 8, width: width, depth: 3,
                              blocks: 3, activation: .silu, prediction: .eps, unet: unet)
    }

    /// The workload's data: eight Gaussians, or noise images for the unet.
    static func source(_ architecture: NetworkArchitecture, engine: Engine) throws -> any BatchSource {
        guard architecture == .unet else { return try EightGaussiansSource(engine: engine) }
        var random = HostRandom(seed: 42)
        let (count, dimension) = (256, imageShape.dimension)
        return try DeviceDataset(engine: engine, values: (0 ..< count * dimension).map { _ in random.uniform(-1, 1) }, count: count,
                                 dimension: dimension, seed: 1)
    }

    static func run(engine: Engine, architecture: NetworkArchitecture = .mlp, width: Int, batch: Int, seconds: Double,
                    source: any BatchSource) throws -> TrainStepResult {
        engine.context.memory.resetPeak()
        let hostReset = HostMemory.resetPeak()
        let model = try Denoiser(engine: engine, config: denoiser(architecture, width: width), seed: 0)
        let objective = try DiffusionObjective(model: model, batch: batch, weighting: DiffusionWeighting.none, seed: 0)
        let trainer = try Trainer(objective: objective, source: source,
                                  config: OptimizationConfig(learningRate: 1e-3, emaDecay: nil))
        let perStep = try secondsPerCall(warmup: 5, minSeconds: seconds, minRepeats: 5) {
            // Several steps per timed call, synchronised once, as a training loop that logs every N steps runs.
            for _ in 0 ..< 10 { try trainer.trainStep() }
            try engine.synchronize()
        } / 10
        var result = TrainStepResult(architecture: architecture.rawValue, width: width, batch: batch, stepsPerSecond: 1 / perStep, milliseconds: perStep * 1e3,
                                     finalLoss: try trainer.meanLoss())
        result.deviceBytes = engine.context.memory.peakBytes
        result.hostPeakBytes = hostReset ? HostMemory.peakBytes() : nil
        return result
    }
}
