import ArgumentParser

/// `bench` with no subcommand: kernels, then the study with its diagnostics, into one report.
struct AllBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "Run everything: kernels, the study and its diagnostics (the default)."
    )

    @Option(help: "quick (<= 15 min on 2 CPU cores) or full.") var preset = "quick"
    @Option(help: "Seeds per configuration (default: 3 quick, 5 full).") var seeds: Int?
    @Option(help: "Data: a built-in set or a .csv/.npy file.") var data = "eight-gaussians"
    @Option(help: "Output folder (default: bench-out/study-<timestamp>).") var out: String?
    @Option(help: "Also write results.json here.") var json: String?
    @Option(help: "Device: index, gpu|cpu|accelerator, or a name substring.") var device: String?

    func run() throws {
        var arguments = ["--preset", preset, "--data", data, "--with-kernels"]
        if let seeds { arguments += ["--seeds", String(seeds)] }
        if let out { arguments += ["--out", out] }
        if let json { arguments += ["--json", json] }
        if let device { arguments += ["--device", device] }
        var study = try StudyCommand.parse(arguments)
        try study.validate()
        try study.run()
    }
}

/// `bench diagnostics`: the study's "why" measurements alone (one seed, no comparison table of note).
struct DiagnosticsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnostics",
        abstract: "Curvature, exact-ODE error, gradient variance, x0 convergence and early exit, on one seed."
    )

    @Option(help: "quick or full.") var preset = "quick"
    @Option(help: "Data: a built-in set or a .csv/.npy file.") var data = "eight-gaussians"
    @Option(help: "Output folder.") var out: String?
    @Option(help: "Device: index, gpu|cpu|accelerator, or a name substring.") var device: String?

    func run() throws {
        var arguments = ["--preset", preset, "--data", data, "--seeds", "1"]
        if let out { arguments += ["--out", out] }
        if let device { arguments += ["--device", device] }
        var study = try StudyCommand.parse(arguments)
        try study.validate()
        try study.run()
    }
}
