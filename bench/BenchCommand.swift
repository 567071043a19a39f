import ArgumentParser

/// `bench`: StepLab's performance numbers and the step-count study.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "StepLab benchmarks: kernel throughput and the training step.",
        subcommands: [KernelsBench.self, ProfileBench.self],
        defaultSubcommand: KernelsBench.self
    )
}
