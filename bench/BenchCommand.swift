import ArgumentParser

/// `bench`: StepLab's performance numbers and the step-count study.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "StepLab benchmarks: the step-count study with its diagnostics, kernel throughput and the training step.",
        subcommands: [AllBench.self, KernelsBench.self, StudyCommand.self, DiagnosticsBench.self, AblationCommand.self, ProfileBench.self, TuneBench.self],
        defaultSubcommand: AllBench.self
    )
}
