import ArgumentParser
import Foundation
import OpenCLKit
import StepLabEngine
import StepLabGenerative

/// `bench profile`: device time per kernel over steps of the reference training workload.
struct ProfileBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Per-kernel device time of the reference training step (queue profiling)."
    )

    @Option(help: "Device: index, gpu|cpu|accelerator, or a name substring.")
    var device: String?
    @Option(help: "Network: mlp, resmlp (3 blocks) or unet (28x28 images, channels 32/64/64).") var arch = "mlp"
    @Option(help: "Hidden width.") var width = 256
    @Option(help: "Batch size (default 4096; 64 for unet).") var batch: Int?
    @Option(help: "Steps to profile (after 5 warm-up steps).") var steps = 20
    @Option(help: "Activation: identity, relu, silu, gelu or tanh.") var activation = "silu"
    @Flag(help: "Report each kernel per global size and build options.") var bySize = false
    @Option(help: "unet only: self-attention with this many heads at its lowest resolution (7x7; default none).") var attentionHeads: Int?

    func run() throws {
        do {
            guard let act = Activation(name: activation) else {
                throw ValidationError("--activation must be one of \(Activation.allCases.map(\.description).joined(separator: ", "))")
            }
            let engine = try Engine(device: device, profiling: true)
            guard let architecture = NetworkArchitecture(rawValue: arch) else { throw ValidationError("--arch must be mlp, resmlp or unet") }
            var config = TrainStepBench.denoiser(architecture, width: width)
            config.activation = act
            if let attentionHeads {
                guard architecture == .unet, var shape = config.unet else { throw ValidationError("--attention-heads needs --arch unet") }
                shape.attentionHeads = attentionHeads
                if let problem = shape.problem { throw ValidationError("--attention-heads \(attentionHeads): \(problem)") }
                config.unet = shape
            }
            let batch = self.batch ?? (architecture == .unet ? 64 : 4096)
            let model = try Denoiser(engine: engine, config: config, seed: 0)
            let objective = try DiffusionObjective(model: model, batch: batch, seed: 0)
            let trainer = try Trainer(objective: objective, source: try TrainStepBench.source(architecture, engine: engine),
                                      config: OptimizationConfig(emaDecay: nil))
            for _ in 0 ..< 5 { try trainer.trainStep() }
            try engine.synchronize()
            let profiler = KernelProfiler(bySize: bySize)
            engine.profiler = profiler
            let start = Date()
            for _ in 0 ..< steps { try trainer.trainStep() }
            try engine.synchronize()
            print(profiler.table(steps: steps, wallSeconds: Date().timeIntervalSince(start)))
        } catch let error as OpenCLError {
            throw ValidationError(error.description)
        }
    }
}
