import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// Which part of the study's multistep CT recipe keeps S = 4 and 8 from closing on diffusion: per seed, the study's
/// teacher, then MCT from it under the study's recipe and under variants that each change one thing (teacher-step
/// annealing, the loss, the EMA, the learning rate, the iterations). Every model samples from the same noise and is
/// scored on the same bootstrap resamples, so each variant's difference from the recipe is paired.
struct MultistepAblation {
    /// One change to the recipe; nil fields keep the study's setting.
    struct Variant: Codable {
        var name: String
        var change: String
        var teacherStepsStart: Int? = nil, teacherStepsEnd: Int? = nil
        var huberC: Float? = nil
        var emaDecay: Float? = nil
        var rawWeights = false
        /// Multiplies the study's consistency learning rate.
        var learningRateScale: Float = 1
        var iterationScale = 1
        var cosine = false
    }

    static let recipe = Variant(name: "recipe", change: "the study's: N_teacher 64 -> 1280 over the first half, pseudo-Huber c = 0.00054 sqrt(d), "
                                + "EMA sampled, the study's consistency learning rate (2e-4 in quick), constant")
    /// No EMA-decay variant: the EMA's warm-up, min(decay, (1 + n) / (10 + n)), stays below 0.995 for the first 1790
    /// updates, so at the quick preset's 500 iterations every decay from 0.995 up gives the same weights.
    static let variants: [Variant] = [
        recipe,
        Variant(name: "teacher-64", change: "N_teacher fixed at 64 (no annealing: coarser, biased targets)", teacherStepsStart: 64, teacherStepsEnd: 64),
        Variant(name: "teacher-1280", change: "N_teacher fixed at 1280 (no annealing: finest targets from the start)",
                teacherStepsStart: 1280, teacherStepsEnd: 1280),
        Variant(name: "huber-1", change: "pseudo-Huber c = 1, close to a squared L2 loss at these errors", huberC: 1),
        Variant(name: "raw", change: "sampled with the raw weights, no EMA", rawWeights: true),
        Variant(name: "lr-x10", change: "10x the learning rate", learningRateScale: 10),
        Variant(name: "lr-x0.1", change: "a tenth of the learning rate", learningRateScale: 0.1),
        Variant(name: "cosine", change: "learning rate decayed by a cosine to zero", cosine: true),
        Variant(name: "iterations-x4", change: "4x the iterations (the anneal stretched with them)", iterationScale: 4),
    ]

    let study: Study
    let segments: [Int]
    var intervals = StudyIntervals()
    var rows: [AblationRow] = []

    init(study: Study, segments: [Int]) {
        self.study = study
        self.segments = segments
    }

    static func configuration(_ variant: String, segments: Int) -> String { "mct S=\(segments) \(variant)" }
    static func teacher(steps: Int) -> String { "teacher ddim-\(steps)" }

    mutating func run() throws -> AblationResults {
        let settings = study.settings, engine = study.engine, spec = study.spec
        var floors: [Double] = []
        for seed in 0 ..< settings.seeds {
            let reference = study.reference(seed: seed)
            let bootstrap = SlicedWassersteinBootstrap(reference: reference, projections: Swift.min(64, 16 * spec.dimension),
                                                       seed: UInt64(30_000 + seed))
            let floorSample = spec.referencePoints(count: settings.samples, seed: UInt64(20_000 + seed))
            floors.append(try study.metrics.slicedWasserstein(floorSample, reference))
            intervals.record("noise floor", seed: seed, bootstrap.distances(floorSample))
            let source = try spec.source(engine: engine, normalization: study.normalization, seed: UInt64(seed))
            let noise = try engine.tensor(rows: settings.samples, columns: spec.dimension)
            try engine.normal(into: noise, key: RandomKey(seed: UInt64(seed), stream: .studyNoise))
            func record(_ configuration: String, samples: Tensor, seconds: Double?) throws {
                let points = try study.dataUnits(samples)
                let swd = points.values.allSatisfy(\.isFinite) ? try study.metrics.slicedWasserstein(points, reference) : .nan
                if swd.isFinite { intervals.record(configuration, seed: seed, bootstrap.distances(points)) }
                rows.append(AblationRow(configuration: configuration, seed: seed, swd: swd, trainSeconds: seconds))
                study.log(String(format: "  seed %d  %-28@ swd %.4f%@", seed, configuration as NSString, swd,
                                 seconds.map { String(format: "  (%.1f s)", $0) } ?? ""))
            }

            // The study's teacher: `iterations` of diffusion, its EMA.
            let trainer = StudyTrainer(engine: engine, source: source, denoiser: study.denoiser, iterations: settings.iterations,
                                       optimization: study.optimization(consistency: false), logEvery: 10)
            let (diffusion, diffusionRecord) = try trainer.train(DiffusionObjective(model: try trainer.newModel(seed: UInt64(100 + seed)),
                                                                                    batch: settings.batch, seed: UInt64(seed)))
            let teacher = try trainer.copy(of: diffusion, seed: 0)
            for steps in segments + [64] {
                try record(Self.teacher(steps: steps), samples: try VPSampler(model: teacher).sample(noise: noise, steps: steps, clip: spec.sampleClip),
                           seconds: steps == 64 ? diffusionRecord.seconds : nil)
            }

            for variant in Self.variants {
                for s in segments {
                    let model = try Denoiser(engine: engine, config: study.denoiser, seed: 0)
                    try model.parameters.assign(from: teacher.parameters.values)
                    let iterations = settings.fineTuning * variant.iterationScale
                    let config = MultistepConfig(segments: s, teacherStepsStart: variant.teacherStepsStart ?? 64,
                                                 teacherStepsEnd: variant.teacherStepsEnd ?? 1280, annealSteps: iterations / 2, huberC: variant.huberC)
                    var optimization = study.optimization(consistency: true)
                    optimization.learningRate *= variant.learningRateScale
                    if let decay = variant.emaDecay { optimization.emaDecay = decay }
                    if variant.cosine { optimization.schedule = LearningRateSchedule(decay: .cosine, totalSteps: iterations) }
                    let objective = try MultistepConsistencyObjective(model: model, config: config, batch: settings.batch, seed: UInt64(seed))
                    let (result, training) = try StudyTrainer(engine: engine, source: source, denoiser: study.denoiser, iterations: iterations,
                                                              optimization: optimization, logEvery: 10)
                        .train(objective, iterations: iterations)
                    let parameters = variant.rawWeights ? nil : result.ema?.values
                    try record(Self.configuration(variant.name, segments: s),
                               samples: try VPSampler(model: model).sample(noise: noise, steps: s, parameters: parameters, clip: spec.sampleClip),
                               seconds: training.seconds)
                }
            }
        }
        var results = AblationResults(variants: Self.variants, segments: segments, rows: rows,
                                      noiseFloor: floors.reduce(0, +) / Double(floors.count))
        for configuration in intervals.measured.keys.sorted() { results.intervals[configuration] = intervals.interval(configuration) }
        results.comparisons = intervals.comparisons(pairs())
        return results
    }

    /// Each variant against the recipe at the same S, and every variant against its teacher's DDIM at S steps.
    func pairs() -> [(a: String, b: String)] {
        var pairs: [(a: String, b: String)] = []
        for s in segments {
            for variant in Self.variants {
                let name = Self.configuration(variant.name, segments: s)
                if variant.name != Self.recipe.name { pairs.append((name, Self.configuration(Self.recipe.name, segments: s))) }
                pairs.append((name, Self.teacher(steps: s)))
            }
        }
        return pairs
    }
}
