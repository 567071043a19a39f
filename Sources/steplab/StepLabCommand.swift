import ArgumentParser

/// `steplab`: train, sample and evaluate diffusion and consistency models on OpenCL devices.
struct StepLabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steplab",
        abstract: "Diffusion, consistency and multistep consistency models on hand-written OpenCL kernels.",
        subcommands: [DevicesCommand.self, TrainCommand.self, SampleCommand.self, EvalCommand.self]
    )
}
