import ArgumentParser

/// `bench` with no subcommand: kernels, then the study with its diagnostics, into one report.
struct AllBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "Run everything: kernels, the study and its diagnostics (the default)."
    )

    @OptionGroup var options: StudyOptions

    func run() throws { try StudyCommand.run(options, diagnostics: true, kernels: true) }
}

/// `bench diagnostics`: the study's "why" measurements, on one seed.
struct DiagnosticsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnostics",
        abstract: "Curvature, exact-ODE error, gradient variance, x0 convergence and early exit, on one seed."
    )

    @OptionGroup var options: StudyOptions

    func run() throws {
        var single = options
        single.seeds = 1
        try StudyCommand.run(single, diagnostics: true, kernels: false)
    }
}
