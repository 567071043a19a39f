import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

// Equal budgets: every model sees N + M iterations (M = N unless the preset says otherwise). Diffusion trains N, its
// EMA at N becomes the teacher of CD/MCD and the initialisation of MCT/MCD (MCM App. A), which then train M more;
// diffusion itself continues to N + M; CT, CD and the recipes train N + M from scratch (ECT: EDM diffusion for N, then
// ECT for M; sCD: EDM diffusion for half of N + M, then sCD distilling it for the other half).

extension Study {
    /// The families this run trains: every standard one and the preset's recipes, in the order the reports list them.
    var families: [StudyFamily] { StudyFamily.standard + settings.recipes }

    /// The run's families in the order each seed trains them: the teacher first (the others start from it or distil
    /// it), then the families of the one-step seeds, then the rest, so the rows keep the order results.json has
    /// always listed them in.
    var trainingOrder: [StudyFamily] {
        families.filter(\.isTeacher) + families.filter { !$0.isTeacher && $0.seeds == .oneStep }
            + families.filter { !$0.isTeacher && $0.seeds == .all }
    }

    /// The seeds `family` trains on: the first this many.
    func seedCount(_ family: StudyFamily) -> Int { family.seeds == .all ? settings.seeds : oneStepSeeds }

    /// The samplers `family`'s rows are scored with in this run: aDDIM only where the preset affords it.
    func samplers(_ family: StudyFamily) -> [ModelSampler] {
        family.samplers.filter { settings.addim || $0.name != ModelSampler.addim.name }
    }

    /// Trains `family` on `run`'s seed and scores its rows, from the seed's noise: a model per step count for a
    /// multistep method (its segments), else one model at every count. Returns the teacher: its EMA at `iterations`,
    /// when `family` is the teacher (nil otherwise).
    func train(_ family: StudyFamily, _ run: StudySeed, teacher: Denoiser?) throws -> Denoiser? {
        var snapshot: Denoiser? = nil
        for counts in family.method.usesSegments ? family.steps.map({ [$0] }) : [family.steps] {
            let segments = family.method.usesSegments ? counts[0] : 1
            let trained = try trainModel(family, run, teacher: teacher, segments: segments)
            snapshot = trained.snapshot
            let ema = trained.trainer.ema?.values
            // A model's training statistics appear once in the table, on its first row.
            var training: TrainingRecord? = trained.record
            for steps in counts {
                for sampler in samplers(family) {
                    let request = ModelSampler.Request(model: trained.model, noise: run.noise, steps: steps,
                                                       key: RandomKey(seed: UInt64(run.seed), stream: family.renoise), clip: run.clip, parameters: ema)
                    let (samples, evaluations) = try sampler.draw(request)
                    try record(run, family, steps: steps, sampler: sampler.name, samples: samples, training: training, evaluations: evaluations)
                    training = nil
                }
            }
            if family.isTeacher {
                if let bootstrap = run.bootstrap {
                    try recordGateDraws(seed: run.seed, teacher: VPSampler(model: trained.model), parameters: ema, clip: run.clip, bootstrap: bootstrap)
                }
                if run.seed == 0 {
                    ledger.firstTeacher = trained.trainer
                    ledger.firstModels.append(DiagnosedModel(family: family, segments: 64, model: trained.model,
                                                             steps: family.steps.filter(Self.shownSteps.contains), parameters: ema))
                }
            } else if run.seed == 0 {
                // The diagnostics sample the model itself: give it the EMA weights its rows were scored with.
                if let ema { try trained.model.parameters.assign(from: ema) }
                ledger.firstModels.append(DiagnosedModel(family: family, segments: segments, model: trained.model, steps: [segments]))
            }
        }
        return snapshot
    }

    /// One model of `family` (with `segments` segments, for a multistep method) trained on `run`'s seed for its part of
    /// the budget; with its trainer, which holds the EMA, its record, and for the teacher its EMA at `iterations`.
    private func trainModel(_ family: StudyFamily, _ run: StudySeed, teacher: Denoiser?, segments: Int) throws
        -> (model: Denoiser, trainer: Trainer, record: TrainingRecord, snapshot: Denoiser?) {
        let weights = UInt64(family.weightsSeed + run.seed)
        func objective(_ method: TrainingMethod, _ model: Denoiser, iterations: Int, teacher own: Denoiser? = nil) throws -> any TrainingObjective {
            try method.makeObjective(TrainingMethod.ObjectiveRequest(
                model: model, teacher: own ?? (family.distils ? teacher : nil), iterations: iterations, batch: settings.batch, seed: UInt64(run.seed),
                segments: segments, annealSteps: settings.fineTuning / 2))
        }
        switch family.start {
        case .teacher:
            let trainer = self.trainer(family, run, iterations: settings.iterations, initialised: false)
            let model = try trainer.newModel(seed: weights)
            var (result, record) = try trainer.train(objective(family.method, model, iterations: settings.budget), iterations: settings.iterations)
            let snapshot = try trainer.copy(of: result, seed: 0)
            try trainer.proceed(result, until: settings.budget, record: &record)
            return (model, result, record, snapshot)
        case .scratch:
            let trainer = self.trainer(family, run, iterations: settings.budget, initialised: false)
            let model = try trainer.newModel(seed: weights)
            let (result, record) = try trainer.train(objective(family.method, model, iterations: settings.budget), iterations: settings.budget)
            return (model, result, record, nil)
        case .teacherEMA:
            guard let teacher else { preconditionFailure("\(family.name) tunes the teacher, which trains first") }
            let trainer = self.trainer(family, run, iterations: settings.fineTuning, initialised: true)
            let model = try trainer.newModel(seed: 0)
            try model.parameters.assign(from: teacher.parameters.values)
            let (result, record) = try trainer.train(objective(family.method, model, iterations: settings.fineTuning), iterations: settings.fineTuning)
            return (model, result, record, nil)
        case let .tuning(base, distilling, split):
            // The base model for its part of the budget, its EMA the start (and, distilling, the teacher) of the rest.
            let baseIterations = split.baseIterations(iterations: settings.iterations, budget: settings.budget, images: spec.imageShape != nil)
            let tuning = settings.budget - baseIterations
            let baseTrainer = self.trainer(family, run, method: base, iterations: baseIterations, initialised: false)
            let baseModel = try baseTrainer.newModel(seed: weights)
            let (trainedBase, _) = try baseTrainer.train(objective(base, baseModel, iterations: baseIterations), iterations: baseIterations)
            let model = try baseTrainer.copy(of: trainedBase, seed: 0)
            let baseTeacher = distilling ? try baseTrainer.copy(of: trainedBase, seed: 0) : nil
            let trainer = self.trainer(family, run, iterations: tuning, initialised: true)
            let (result, record) = try trainer.train(objective(family.method, model, iterations: tuning, teacher: baseTeacher), iterations: tuning)
            return (model, result, record, nil)
        }
    }

    /// The trainer of `family`'s model (or of the model it tunes, `method`) on `run`'s data: the seed's own at the
    /// study's settings, or one with `steplab train`'s defaults for the method (`initialised`: tuning a trained model).
    func trainer(_ family: StudyFamily, _ run: StudySeed, method: TrainingMethod? = nil, iterations: Int, initialised: Bool) -> StudyTrainer {
        switch family.defaults {
        case .study:
            family.isTeacher ? run.trainer : run.consistencyTrainer
        case .method:
            StudyTrainer(engine: engine, source: run.source, denoiser: denoiser(for: family.method), iterations: iterations,
                         optimization: optimization(for: method ?? family.method, initialised: initialised), logEvery: 10)
        }
    }

    /// The study's network as `method` needs it: its times, time scale and loss weighting (`TrainingMethod`).
    func denoiser(for method: TrainingMethod) -> DenoiserConfig {
        var config = denoiser
        config.timeScale = method.defaultTimeScale
        config.timeInputs = method.timeInputs
        config.weighting = method.weighting
        return config
    }

    /// `method`'s optimizer: the CLI's rate (from scratch, or tuning a trained model), constant, with the study's
    /// clipping and EMA.
    func optimization(for method: TrainingMethod, initialised: Bool) -> OptimizationConfig {
        OptimizationConfig(learningRate: method.defaultLearningRate(initialised: initialised), schedule: .constant,
                           adam: AdamW.Hyperparameters(maxGradientNorm: settings.clip), emaDecay: settings.emaDecay)
    }
}
