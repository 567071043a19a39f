import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// The study itself: trains every configuration for every seed and scores it.
final class Study {
    let engine: Engine
    let spec: DataSpec
    let settings: StudyPreset
    let log: (String) -> Void
    let normalization: Normalization
    let metrics = SampleMetrics(seed: 0)
    /// Image data: FD, KID and coverage on StepLab's classifier (trained or loaded from the cache at start).
    let imageQuality: ImageQuality?
    /// What the figures need beyond results.json (filled by `run`).
    var extras = StudyPlots.Extras()
    /// Every configuration's distance the rules compare (SWD, or FD for images) on the actual samples and on
    /// bootstrap resamples (filled by `run`).
    var intervals = StudyIntervals()
    /// Images: every configuration's KID on the actual samples and on the resamples.
    var kidIntervals = StudyIntervals()
    /// What `run` has gathered so far: rows, floors, the models the diagnostics read.
    var ledger = StudyLedger(total: 0)
    /// The step counts the samples figure and the exact-ODE table show (32 adds little between 16 and 64).
    static let shownSteps = [1, 2, 4, 8, 16, 64]
    /// A consistency model whose SWD exceeds this multiple of a Gaussian fit's counts as diverged.
    static let divergenceFactor = 2.0

    init(engine: Engine, spec: DataSpec, settings: StudyPreset, log: @escaping (String) -> Void) throws {
        self.engine = engine
        self.spec = spec
        self.settings = settings
        self.log = log
        normalization = spec.normalization()
        if let extractor = try spec.imageFeatureExtractor(engine: engine, log: log), let reference = spec.imageReference {
            log("image metrics on the features of " + extractor.featureDescription)
            imageQuality = try ImageQuality(extractor: extractor, reference: reference)
        } else {
            imageQuality = nil
        }
    }

    var denoiser: DenoiserConfig {
        // Vectors train the time-conditioned resmlp (depth = its blocks), images the U-Net.
        guard let image = spec.imageShape else {
            return DenoiserConfig(dimension: spec.dimension, architecture: .resmlp, width: settings.width, depth: settings.depth,
                                  blocks: settings.depth, prediction: settings.prediction)
        }
        return DenoiserConfig(dimension: spec.dimension, architecture: .unet, prediction: settings.prediction,
                              unet: UNetShape(height: image.height, width: image.width, imageChannels: image.channels, channels: settings.unetChannels,
                                              channelMult: settings.unetChannelMult))
    }

    /// The optimizer every model of the study trains with; the consistency models' learning rate may differ, and
    /// diffusion follows the preset's schedule over the whole budget (its teacher is the EMA at `iterations`).
    func optimization(consistency: Bool) -> OptimizationConfig {
        OptimizationConfig(learningRate: consistency ? settings.consistencyLearningRate ?? settings.learningRate : settings.learningRate,
                           schedule: consistency ? .constant : settings.diffusionSchedule,
                           adam: AdamW.Hyperparameters(maxGradientNorm: settings.clip), emaDecay: settings.emaDecay)
    }

    /// Image metrics of samples in the data's units (nil for non-image data); with `bootstrap`, their FD and KID
    /// replicates are recorded under `configuration`, and the KID is the bootstrap's, against the whole reference.
    func imageReport(_ points: PointSet, seed: Int, configuration: String, bootstrap: StudyImageBootstrap?) throws -> ImageQualityReport? {
        guard let imageQuality else { return nil }
        let (features, predictions) = try imageQuality.features(points)
        var kernelDistance: Double? = nil
        if let bootstrap {
            intervals.record(configuration, seed: seed, try bootstrap.frechet.distances(features))
            let kid = try bootstrap.kernel.distances(features)
            kidIntervals.record(configuration, seed: seed, kid)
            kernelDistance = kid.estimate
        }
        return try imageQuality.report(features: features, predictions: predictions, seed: UInt64(seed), kernelDistance: kernelDistance)
    }

    func reference(seed: Int) -> PointSet { spec.referencePoints(count: settings.samples, seed: UInt64(10_000 + seed)) }

    /// Standardised samples (n x d on the device) in the data's units.
    func dataUnits(_ samples: Tensor) throws -> PointSet {
        try normalization.invert(PointSet(count: samples.rows, dimension: samples.columns, values: samples.download()))
    }

    /// Metrics of standardised samples (n x d on the device) against `reference`, in the data's units.
    func score(_ samples: Tensor, reference: PointSet) throws -> (MetricReport, Bool) {
        try score(dataUnits(samples), reference: reference)
    }

    /// Metrics of samples in the data's units against `reference`; NaN, and false, when a sample is not finite.
    func score(_ points: PointSet, reference: PointSet) throws -> (MetricReport, Bool) {
        guard points.values.allSatisfy(\.isFinite) else { return (MetricReport(swd: .nan, mmd: .nan, energy: .nan, count: points.count), false) }
        return (try metrics.report(sample: points, reference: reference), true)
    }

    /// A Gaussian with the data's mean and per-dimension std: a model worse than this learned nothing.
    func divergenceBound(reference: PointSet) throws -> MetricReport {
        let noise = try engine.tensor(rows: settings.samples, columns: spec.dimension)
        try engine.normal(into: noise, key: RandomKey(seed: 4242, stream: .divergenceBound))
        return try score(noise, reference: reference).0
    }

    /// Trains and scores every configuration; with `diagnostics`, the "why" measurements too.
    func run(diagnostics: Bool) throws -> StudyResults {
        // Evaluations: per family, its seeds x its samplers x its step counts.
        ledger = StudyLedger(total: families.map { seedCount($0) * samplers($0).count * $0.steps.count }.reduce(0, +))
        log("study: \(settings.seeds) seeds x \(settings.iterations) + \(settings.fineTuning) iterations, batch \(settings.batch), \(denoiser.summary), "
            + "\(settings.samples) samples, device \(engine.device.name)")
        for seed in 0 ..< settings.seeds {
            let run = try prepare(seed: seed)
            var teacher: Denoiser? = nil
            for family in trainingOrder where seed < seedCount(family) {
                if let snapshot = try train(family, run, teacher: teacher) { teacher = snapshot }
            }
        }
        var results = assemble()
        if diagnostics, let teacher = ledger.firstTeacher {
            log(String(format: "diagnostics (at %.0f s)", Date().timeIntervalSince(ledger.started)))
            // 2-D points sample 64-step DDIM for the early-exit comparison from seed 0's noise against seed 0's reference
            // with the teacher's final EMA, unclipped: the row the study already scored.
            let seedZero = ledger.rows.first { $0.seed == 0 && $0.configuration == StudyFamily.teacherConfiguration }
            let fullDDIM = spec.imageShape == nil && spec.sampleClip == 0 ? seedZero?.swd : nil
            results.diagnostics = try StudyDiagnostics(study: self, teacher: teacher, models: ledger.firstModels, fullDDIMDistance: fullDDIM).run()
        }
        return results
    }

    /// The samplers' speed on seed 0's teacher, after `run`: timed apart from any other study, so the machine is
    /// this one's alone (the same network on every 2-D set, so a multi-set run measures it once).
    func measureThroughput() throws -> [SamplingThroughput] {
        guard let teacher = ledger.firstTeacher else { return [] }
        log(String(format: "sampling throughput (at %.0f s)", Date().timeIntervalSince(ledger.started)))
        return try samplingThroughput(teacher.model)
    }

    /// The seeds one-step CT and CD and the recipes train on.
    var oneStepSeeds: Int { Swift.min(settings.oneStepSeeds ?? settings.seeds, settings.seeds) }

    /// The results of every seed: rows and their summary, the floors, the intervals, the comparisons and the gate.
    func assemble() -> StudyResults {
        let floors = ledger.floors
        let floor = MetricReport(swd: floors.map(\.swd).reduce(0, +) / Double(floors.count),
                                 mmd: floors.map(\.mmd).reduce(0, +) / Double(floors.count),
                                 energy: floors.map(\.energy).reduce(0, +) / Double(floors.count), count: settings.samples)
        var results = StudyResults(device: engine.device.name, commit: Self.commit(), date: ISO8601DateFormatter().string(from: Date()),
                                   config: configuration, study: ledger.rows, summary: StudySummary.of(ledger.rows), noiseFloor: floor,
                                   divergenceBound: ledger.bound, diagnostics: nil, sampling: [], kernels: nil)
        results.imageNoiseFloor = ledger.imageFloors.first
        for configuration in intervals.measured.keys { results.intervals[configuration] = intervals.interval(configuration) }
        for configuration in kidIntervals.measured.keys { results.kidIntervals[configuration] = kidIntervals.interval(configuration) }
        results.comparisons = intervals.comparisons(StudyIntervals.pairs(families))
        results.rankings = StudyRanking.rank(families, estimates: results.intervals, intervals: intervals)
        let teacherName = StudyFamily.teacherConfiguration
        if let teacher = results.summary.first(where: { $0.configuration == teacherName }) {
            // 2-D data average the gate over several noise draws (`recordGateDraws`); images, whose 64-step samples
            // cost minutes, gate on the table's draw.
            let (gateTeacher, gateFloor, draws) = spec.imageShape == nil ? (Self.gateTeacher, Self.gateFloor, Self.gateDraws) : (teacherName, "noise floor", 1)
            results.teacherGate = TeacherGate(metric: results.metricName, teacherDistance: teacher.primaryMean, noiseFloor: results.primaryFloor,
                                              excess: intervals.difference(gateTeacher, gateFloor),
                                              intervalFloor: intervals.interval(gateFloor)?.estimate, draws: draws)
        }
        return results
    }

    /// The settings results.json records.
    var configuration: [String: String] {
        var config = ["seeds": String(settings.seeds), "iterations": String(settings.iterations),
                      "batch": String(settings.batch), "network": denoiser.summary, "width": String(settings.width),
                      "depth": String(settings.depth), "samples": String(settings.samples), "lr": String(settings.learningRate),
                      "consistency_lr": String(settings.consistencyLearningRate ?? settings.learningRate),
                      "ema": String(settings.emaDecay), "clip": settings.clip.map { String($0) } ?? "none",
                      "consistency_iterations": String(settings.fineTuning), "one_step_seeds": String(oneStepSeeds),
                      "recipes": recipesDescription,
                      "diffusion_lr_schedule": settings.diffusionDecay == .constant ? "constant" : "warm-up 100, cosine to zero at the budget",
                      "budget": "iterations + consistency_iterations for every model",
                      "divergence": "non-finite loss or gradient, or (consistency models) SWD > 2 x the Gaussian-fit bound",
                      "prediction": settings.prediction.description, "bootstrap_replicates": String(settings.bootstrapReplicates)]
        if let imageQuality { config["image_features"] = imageQuality.extractor.featureDescription }
        return config
    }

    /// The recipes and how they train, for results.json.
    var recipesDescription: String {
        guard !settings.recipes.isEmpty else { return "none" }
        let tuned = settings.recipes.compactMap { recipe -> String? in
            guard case let .tuning(base, distilling, split) = recipe.start else { return nil }
            let length = split.description(images: spec.imageShape != nil)
            return "\(recipe.name): \(distilling ? "distilling" : "tuning") an \(base.name) model trained for \(length), then for the rest"
        }
        return settings.recipes.map(\.name).joined(separator: ",") + " at steplab train's defaults on the one-step seeds, from scratch for the budget"
            + (tuned.isEmpty ? "" : " (" + tuned.joined(separator: "; ") + ")")
    }

    /// Samples per second of the VP samplers at batch 16384, or 128 for images (a U-Net's 64 steps at batch 2048
    /// would take minutes on a CPU). Each sampler first runs on a sixteenth of the batch (at most 256 rows), so its
    /// kernels are built before the timed run: for images a warm-up as large as the timed batch would cost as much as
    /// the measurement itself (about 27 s of the quick image study's 30 minutes at the rates it reports).
    func samplingThroughput(_ model: Denoiser) throws -> [SamplingThroughput] {
        let batch = spec.imageShape == nil ? 16384 : 128
        let noise = try engine.tensor(rows: batch, columns: spec.dimension)
        try engine.normal(into: noise, key: RandomKey(seed: 1, stream: .samplingThroughput))
        let warmUp = try engine.tensor(rows: Swift.min(256, batch / 16), columns: spec.dimension)
        try engine.normal(into: warmUp, key: RandomKey(seed: 2, stream: .samplingThroughput))
        let sampler = VPSampler(model: model)
        let cases: [(String, Int, (Tensor) throws -> Void)] = [
            ("ddim", 1, { _ = try sampler.sample(noise: $0, steps: 1) }),
            ("ddim", 8, { _ = try sampler.sample(noise: $0, steps: 8) }),
            ("addim", 8, { _ = try sampler.sample(noise: $0, steps: 8, update: .addim) }),
            ("ddim", 64, { _ = try sampler.sample(noise: $0, steps: 64) }),
            ("early-exit", 64, { _ = try sampler.sampleEarlyExit(noise: $0, steps: 64) }),
        ]
        return try cases.map { name, steps, body in
            try body(warmUp)
            try engine.synchronize()
            engine.context.memory.resetPeak()
            let hostReset = HostMemory.resetPeak()
            let start = Date()
            try body(noise)
            try engine.synchronize()
            let rate = Double(batch) / Date().timeIntervalSince(start)
            let host = hostReset ? HostMemory.peakBytes() : nil
            log(String(format: "  sampling: %@-%d at batch %d: %.0f samples/s, device %@, host peak %@", name, steps, batch, rate,
                       HostMemory.megabytes(engine.context.memory.peakBytes), HostMemory.megabytes(host)))
            return SamplingThroughput(sampler: name, steps: steps, batch: batch, samplesPerSecond: rate,
                                      deviceBytes: engine.context.memory.peakBytes, hostPeakBytes: host)
        }
    }

    static func commit() -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "rev-parse", "--short", "HEAD"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "unknown" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && !text.isEmpty ? text : "unknown"
    }
}
