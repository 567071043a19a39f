import ArgumentParser
import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// The study's size. `quick` fits 15 minutes on a 2-core CPU through POCL for 2-D data, and 30 for images.
struct StudyPreset {
    var seeds: Int, iterations: Int, batch: Int, width: Int, depth: Int, samples: Int
    var learningRate: Float = 2e-3
    /// v: x-prediction diffusion (SNR + 1 weight) was worse on every 2-D set, and blurred images
    /// (bench/results/README.md, "The study's settings").
    var prediction: Prediction = .v
    /// Iterations of the models initialised from diffusion (MCT, MCD) after the teacher's `iterations`; every other
    /// model trains `iterations + consistencyIterations` so all budgets match. nil: `iterations`.
    var consistencyIterations: Int? = nil
    /// The learning rate of the consistency models (CT, CD, MCT, MCD); nil: `learningRate`. quick uses the CLI's
    /// default for tuning from a diffusion model, 2e-4: at the diffusion model's rate, MCT tuned from it fell behind
    /// its own teacher's DDIM on images and on eight Gaussians (bench/results/README.md, "The study's settings").
    var consistencyLearningRate: Float? = nil
    var emaDecay: Float = 0.995
    /// Global gradient-norm clip (nil: none).
    var clip: Float? = nil
    /// Seeds on which one-step CT and CD train from scratch (nil: every seed). They are the study's most expensive
    /// models (CD evaluates its teacher every step) and fail by a margin one seed resolves, so quick trains them once.
    var oneStepSeeds: Int? = nil
    /// Also sample the diffusion model with aDDIM (doubles its sampling cost, which images cannot spare on a CPU).
    var addim = true
    /// The newer recipes trained beside the multistep models, on the one-step seeds (`StudyFamily.recipes`): quick runs
    /// continuous-time consistency distillation (sCD, against MCT, MCD, CT and CD), the best few-step model measured and
    /// the cheapest of the recipes (docs/study.md, "Presets").
    var recipes: [StudyFamily] = [.scd]
    /// Images: the U-Net's base channels and per-level multipliers.
    var unetChannels = 32, unetChannelMult = [1, 2, 2]
    /// Diffusion iterations (`iterations`) per data set where the default leaves the teacher too far from the data
    /// for the gate; the multistep models' own iterations stay as they are.
    var iterationsByData: [String: Int] = [:]

    /// Diffusion's learning rate over its budget. 2-D: a 100-step warm-up, then a cosine to zero at the budget, which
    /// brought the checkerboard's teacher closer to the floor than a constant rate (bench/results/README.md, "The
    /// study's settings"). Images keep the constant rate their results were measured with.
    var diffusionDecay: LearningRateSchedule.Decay = .cosine
    /// Bootstrap resamples per seed behind every interval (tests take a few).
    var bootstrapReplicates = 200
    /// Minibatches behind each of the diagnostics' gradient variances (nil: 64, or 32 for images; tests take a few).
    var gradientBatches: Int? = nil
    var diffusionSchedule: LearningRateSchedule {
        LearningRateSchedule(decay: diffusionDecay, warmupSteps: diffusionDecay == .constant ? 0 : 100, totalSteps: budget)
    }

    /// MCT/MCD's own iterations after initialisation.
    var fineTuning: Int { consistencyIterations ?? iterations }
    /// Every model's total budget.
    var budget: Int { iterations + fineTuning }

    /// 2-D: 16384 samples per configuration against as many fresh reference points, which the verdicts' bootstrap
    /// resamples. quick fits two data sets into 15 minutes on 2 CPU cores: 2 seeds, DDIM only, and most of the
    /// training spent on the teacher: 4000 diffusion iterations (5500 on the checkerboard, whose sharp edges a
    /// teacher needs longer to pass the gate on), then 500 for each multistep model (bench/results/README.md).
    static let quick = StudyPreset(seeds: 2, iterations: 4000, batch: 256, width: 128, depth: 3, samples: 16384,
                                   consistencyIterations: 500, consistencyLearningRate: 2e-4, oneStepSeeds: 1, addim: false,
                                   iterationsByData: ["checkerboard": 5500])
    static let full = StudyPreset(seeds: 5, iterations: 6000, batch: 512, width: 256, depth: 3, samples: 16384, consistencyLearningRate: 2e-4,
                                  recipes: StudyFamily.recipes)
    /// Images on the U-Net, one seed. quick: channels 16/32/32 at batch 32 (a third of the step of 32/64/64 at batch
    /// 64), a 1000-iteration teacher and 250 iterations per multistep model, so the 13 models and their 1000-sample
    /// evaluations fit 30 minutes on 2 CPU cores. full (a GPU's): the README's Fashion-MNIST recipe, channels
    /// 32/64/64 at batch 64, 3 seeds.
    static let quickImages = StudyPreset(seeds: 1, iterations: 1000, batch: 32, width: 0, depth: 0, samples: 1000,
                                         learningRate: 1e-3, prediction: .v, consistencyIterations: 250, consistencyLearningRate: 2e-4,
                                         emaDecay: 0.999, clip: 1, addim: false, recipes: [], unetChannels: 16, diffusionDecay: .constant)
    static let fullImages = StudyPreset(seeds: 3, iterations: 4000, batch: 64, width: 0, depth: 0, samples: 2000,
                                        learningRate: 1e-3, prediction: .v, consistencyIterations: 2000, consistencyLearningRate: 2e-4,
                                        emaDecay: 0.999, clip: 1, addim: true, recipes: StudyFamily.recipes, unetChannels: 32, diffusionDecay: .constant)

    /// The 2-D data sets a preset studies when `--data` names none: two geometries (separated modes, and a
    /// checkerboard's sharp-edged squares), so no conclusion rests on one toy; `full` adds the thin curved arms of
    /// two moons.
    static func dataSets(_ preset: String) -> [String] {
        preset == "full" ? ["eight-gaussians", "checkerboard", "two-moons"] : ["eight-gaussians", "checkerboard"]
    }

    static func named(_ name: String, images: Bool) -> StudyPreset {
        switch (name, images) {
        case ("full", false): full
        case ("full", true): fullImages
        case (_, true): quickImages
        default: quick
        }
    }
}

/// The options every study-running command shares.
struct StudyOptions: ParsableArguments {
    @Option(help: "quick (<= 15 min on 2 CPU cores, 30 for images) or full (more seeds and iterations; a GPU's for images).") var preset = "quick"
    @Option(help: "Seeds per configuration (default: 2 quick, 5 full; 1 and 3 for fashion-mnist).") var seeds: Int?
    @Option(help: "Diffusion iterations before the multistep models branch off (default: the preset's); the multistep models' own iterations keep the preset's proportion.") var iterations: Int?
    @Option(help: "Samples scored per configuration (default: the preset's).") var samples: Int?
    @Option(help: "Data, comma-separated: built-in sets (fashion-mnist adds FD, KID and class coverage), .csv/.npy files (default: the preset's 2-D sets, eight-gaussians,checkerboard for quick).") var data: String?
    @Option(help: "Output folder (default: bench-out/study-<timestamp>).") var out: String?
    @Option(help: "Also write results.json here.") var json: String?
    @Option(help: "Device: index, gpu|cpu|accelerator, or a name substring.") var device: String?
    @Option(help: "Data sets trained at once, each on an engine of its own (default 2: a 2-D study's small kernels leave a CPU's cores idle between launches, which a second study fills; its training times then share the cores).") var sideBySide = 2
    @Option(help: "Newer recipes trained beside the multistep models on the one-step seeds, from scratch for the budget, comma-separated from \(StudyAnswer.list(StudyFamily.recipes.map(\.name))) (scd distils an EDM diffusion model trained for half the budget, three quarters on images, starting from it; ect tunes one trained for the iterations as MCT tunes the teacher), or all or none (default: scd for quick, all for full; for images none for quick, whose 30 minutes they would double, and all for full).") var recipes: String?

    func validate() throws {
        guard preset == "quick" || preset == "full" else { throw ValidationError("--preset must be quick or full (got \(preset))") }
        if let seeds, seeds < 1 { throw ValidationError("--seeds must be at least 1") }
        if let iterations, iterations < 2 { throw ValidationError("--iterations must be at least 2") }
        if let samples, samples < 16 { throw ValidationError("--samples must be at least 16") }
        if sideBySide < 1 { throw ValidationError("--side-by-side must be at least 1") }
        if let recipes, StudyFamily.recipes(named: recipes) == nil {
            throw ValidationError("--recipes takes \(StudyAnswer.list(StudyFamily.recipes.map(\.name))), comma-separated, or all or none (got \(recipes))")
        }
    }
}

/// `bench study`: the step-count study with its diagnostics, written as report.md and results.json.
struct StudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study",
        abstract: "Train diffusion, consistency and multistep consistency models on equal budgets over several seeds and report quality against steps.",
        discussion: """
        Every model gets the same iterations, batch and network. Diffusion is sampled with DDIM and aDDIM at 1-64 steps; \
        one-step CT and CD (iCT recipe); multistep CT and CD at S = 1, 2, 4, 8, 16, initialised from the diffusion \
        model as in the MCM paper. Quality: sliced Wasserstein, MMD, energy distance against fresh reference draws, \
        with the noise floor. A run diverged when a logged loss or gradient norm is not finite, or when its sliced \
        Wasserstein distance is worse than a Gaussian with the data's mean and covariance (the divergence bound).
        """
    )

    @OptionGroup var options: StudyOptions
    @Flag(help: "Skip the diagnostics (curvature, exact-ODE error, gradient variance, x0 convergence).") var skipDiagnostics = false
    @Flag(help: "Also run `bench kernels --short` first and include its numbers.") var withKernels = false

    func run() throws {
        try Self.run(options, diagnostics: !skipDiagnostics, kernels: withKernels)
    }

    /// The study with `options`; shared by `bench`, `bench study` and `bench diagnostics`. Several data sets each get
    /// a folder of their own under the output folder, and the top-level report.md and results.json gather them. The
    /// sets train side by side (`--side-by-side`), each on an engine of its own; the kernels before them and the
    /// samplers' throughput after them are timed with the machine to themselves.
    static func run(_ options: StudyOptions, diagnostics: Bool, kernels withKernels: Bool) throws {
        let names = options.data.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
            ?? StudyPreset.dataSets(options.preset)
        for name in names {
            do { _ = try DataSpec.parse(name) } catch { throw ValidationError(error.description) }
        }
        let folder = URL(fileURLWithPath: options.out ?? "bench-out/study-\(Self.timestamp())")
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw ValidationError("cannot create \(folder.path): \(error.localizedDescription)")
        }
        do {
            let kernels = withKernels ? try KernelsBench.parse(["--seconds", "0.5", "--short"]).measure(engine: Engine(device: options.device)) : nil
            let width = Swift.min(options.sideBySide, names.count)
            let printer = LinePrinter()
            let studies = try sideBySide(names.count, width: width) { index in
                let prefix = width > 1 ? "[\(names[index])] " : ""
                return try train(names[index], options: options, diagnostics: diagnostics, sideBySide: width,
                                 log: { printer.print($0, prefix: prefix) })
            }
            var all: [(name: String, results: StudyResults)] = []
            for (index, (name, (study, trained))) in zip(names, studies).enumerated() {
                var results = trained
                if index == 0 {
                    results.kernels = kernels
                    if diagnostics { results.sampling = try study.measureThroughput() }
                }
                let subfolder = names.count == 1 ? folder : folder.appendingPathComponent(Self.folderName(name))
                try FileManager.default.createDirectory(at: subfolder, withIntermediateDirectories: true)
                try write(results, of: study, to: subfolder)
                try JSONOutput.write(results, to: subfolder.appendingPathComponent("results.json").path)
                all.append((name, results))
            }
            if names.count == 1 {
                if let json = options.json { try JSONOutput.write(all[0].results, to: json) }
                print("wrote \(folder.path)/report.md and results.json")
            } else {
                let combined = StudyCollection(dataSets: all.map { StudyCollection.Entry(data: $0.name, folder: Self.folderName($0.name), results: $0.results) })
                let report = StudyReport.index(combined)
                try AtomicFile.write(Data(report.utf8), to: folder.appendingPathComponent("report.md"))
                try JSONOutput.write(combined, to: folder.appendingPathComponent("results.json").path)
                if let json = options.json { try JSONOutput.write(combined, to: json) }
                print("\n" + report)
                print("wrote \(folder.path)/report.md and results.json, and a folder per data set")
            }
        } catch let error as OpenCLError {
            throw RuntimeError(error.description)
        }
    }

    /// One data set's study on an engine of its own: trained, scored and (with `diagnostics`) examined.
    static func train(_ name: String, options: StudyOptions, diagnostics: Bool, sideBySide: Int,
                      log: @escaping (String) -> Void) throws -> (Study, StudyResults) {
        let spec = try DataSpec.parse(name)
        var settings = StudyPreset.named(options.preset, images: spec.imageShape != nil)
        if let seeds = options.seeds { settings.seeds = seeds }
        if options.iterations == nil, let iterations = settings.iterationsByData[name] { settings.iterations = iterations }
        if let iterations = options.iterations {
            settings.consistencyIterations = settings.consistencyIterations.map { Swift.max(1, $0 * iterations / settings.iterations) }
            settings.iterations = iterations
        }
        if let samples = options.samples { settings.samples = samples }
        if let recipes = options.recipes.flatMap(StudyFamily.recipes(named:)) { settings.recipes = recipes }
        let study = try Study(engine: Engine(device: options.device), spec: spec, settings: settings, log: log)
        let started = Date()
        var results = try study.run(diagnostics: diagnostics)
        results.config["data"] = name
        results.config["preset"] = options.preset
        results.config["wall_seconds"] = String(format: "%.0f", Date().timeIntervalSince(started))
        results.config["side_by_side"] = String(sideBySide)
        return (study, results)
    }

    /// One data set's figures, grids and report.md in `folder`, the report also printed.
    static func write(_ results: StudyResults, of study: Study, to folder: URL) throws {
        let figures = try StudyPlots.write(results, extras: study.extras, to: folder)
        let grids = try StudyPlots.writeGrids(study.extras, shape: study.spec.imageShape, to: folder)
        let report = StudyReport.markdown(results, figures: figures, grids: grids)
        try AtomicFile.write(Data(report.utf8), to: folder.appendingPathComponent("report.md"))
        print("\n" + report)
    }

    /// A data argument as a folder name: a built-in name as it is, a file's name without its extension.
    static func folderName(_ data: String) -> String {
        URL(fileURLWithPath: data).deletingPathExtension().lastPathComponent
    }

    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.string(from: Date())
    }
}
