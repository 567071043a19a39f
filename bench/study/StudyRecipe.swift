import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// A newer one- or few-step recipe the study trains on the seeds it trains CT on, at the CLI's defaults for its
/// method, and samples at `steps` with the method's default sampler; each row is judged against 64-step diffusion and
/// against MCT with as many segments. The objective, sampler and defaults are the method's own (`TrainingMethod`); a
/// recipe adds only what the study shows. A recipe trains from scratch for the whole budget, or, when it tunes a
/// trained model (ECT), as MCT does: `initialisedBy` for the study's `iterations`, then itself for the rest.
struct StudyRecipe: Sendable {
    let method: TrainingMethod
    /// The name in figures.
    let label: String
    let steps: [Int]
    /// Where its model lives, for the diagnostics' exact-ODE distance.
    let space: DiagnosedModel.Space
    /// The method whose model it tunes (nil: it trains from scratch).
    var initialisedBy: TrainingMethod? = nil

    var name: String { method.name }
    /// The sampler's name in the study's rows.
    var sampler: String { method.defaultSampler(segments: 1).sampler.name }

    /// The objective for a model of this recipe, over `budget` iterations at `batch` rows.
    func objective(_ model: Denoiser, budget: Int, batch: Int, seed: UInt64) throws -> any TrainingObjective {
        try method.makeObjective(TrainingMethod.ObjectiveRequest(model: model, iterations: budget, batch: batch, seed: seed))
    }

    /// Samples from `noise` in `steps` network evaluations with the model's weights; `key` draws any fresh noise.
    func sample(_ model: Denoiser, noise: Tensor, steps: Int, key: RandomKey) throws -> Tensor {
        try method.defaultSampler(segments: 1).sampler.draw(ModelSampler.Request(model: model, noise: noise, steps: steps, key: key)).samples
    }

    /// sCT: continuous-time consistency training.
    static let scm = StudyRecipe(method: .scm, label: "sCT", steps: [1, 2, 4], space: .edm(boundary: false))
    /// MeanFlow: the average velocity through the network's JVP.
    static let meanflow = StudyRecipe(method: .meanflow, label: "MeanFlow", steps: [1, 2, 4], space: .flow)
    /// Shortcut models: flow matching conditioned on the step size, self-consistent over two half jumps.
    static let shortcut = StudyRecipe(method: .shortcut, label: "Shortcut", steps: [1, 2, 4], space: .flow)

    /// Easy Consistency Tuning of an EDM diffusion model trained for the first part of the budget.
    static let ect = StudyRecipe(method: .ect, label: "ECT", steps: [1, 2, 4], space: .edm(boundary: true), initialisedBy: .edm)

    /// Every recipe the study can run, by `--recipes` name.
    static let all = [scm, meanflow, shortcut, ect]

    /// The recipes named in a comma-separated list ("none": no recipe, "all": every one); nil when it names an unknown one.
    static func named(_ list: String) -> [StudyRecipe]? {
        if list == "none" { return [] }
        if list == "all" { return all }
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let recipes = names.compactMap { name in all.first { $0.name == name } }
        return recipes.count == names.count ? recipes : nil
    }
}

extension Study {
    /// The study's network as `recipe`'s method needs it: its times, time scale and loss weighting (`TrainingMethod`).
    func denoiser(for recipe: StudyRecipe) -> DenoiserConfig {
        var config = denoiser
        config.timeScale = recipe.method.defaultTimeScale
        config.timeInputs = recipe.method.timeInputs
        config.weighting = recipe.method.weighting
        return config
    }

    /// `method`'s optimizer: the CLI's rate (from scratch, or tuning a trained model), constant, with the study's
    /// clipping and EMA.
    func optimization(for method: TrainingMethod, initialised: Bool) -> OptimizationConfig {
        OptimizationConfig(learningRate: method.defaultLearningRate(initialised: initialised), schedule: .constant,
                           adam: AdamW.Hyperparameters(maxGradientNorm: settings.clip), emaDecay: settings.emaDecay)
    }

    /// Trains `recipe` for the budget on `source`; returns the model, holding the EMA weights its rows are sampled with
    /// (which the diagnostics sample too), and the training record (of the recipe's own part of the budget).
    func train(_ recipe: StudyRecipe, source: any BatchSource, seed: Int) throws -> (model: Denoiser, training: TrainingRecord) {
        let trainer = { (method: TrainingMethod, iterations: Int, initialised: Bool) in
            StudyTrainer(engine: self.engine, source: source, denoiser: self.denoiser(for: recipe), iterations: iterations,
                         optimization: self.optimization(for: method, initialised: initialised), logEvery: 10)
        }
        var model: Denoiser, iterations = settings.budget
        if let base = recipe.initialisedBy {
            // The base model for the study's `iterations`, its EMA the start of the recipe's `consistency_iterations`.
            let baseTrainer = trainer(base, settings.iterations, false)
            let baseModel = try baseTrainer.newModel(seed: UInt64(300 + seed))
            let (trained, _) = try baseTrainer.train(base.makeObjective(TrainingMethod.ObjectiveRequest(
                model: baseModel, iterations: settings.iterations, batch: settings.batch, seed: UInt64(seed))))
            model = try baseTrainer.copy(of: trained, seed: 0)
            iterations = settings.fineTuning
        } else {
            model = try trainer(recipe.method, iterations, false).newModel(seed: UInt64(300 + seed))
        }
        let (result, training) = try trainer(recipe.method, iterations, recipe.initialisedBy != nil)
            .train(recipe.objective(model, budget: iterations, batch: settings.batch, seed: UInt64(seed)))
        if let weights = result.ema?.values { try model.parameters.assign(from: weights) }
        return (model, training)
    }
}
