import StepLabEngine
import StepLabGenerative

/// One kind of model the study trains and scores, defined once: its method (objective, samplers and defaults are the
/// method's own, `TrainingMethod`), how it starts and trains, the step counts its rows are scored at, the seeds it
/// trains on, where the diagnostics look at it, and what its rows are judged against. Study's training and ledger, its
/// intervals, report, answer and figures iterate the families (`StudyFamily+Catalog.swift`); adding one is one value
/// there, listed in `standard` or `recipes`.
struct StudyFamily: Sendable {
    /// How a family's model starts, which sets how long it trains: every model sees the same budget.
    enum Start: Sendable, Equatable {
        /// From scratch for the whole budget; its EMA at `iterations` is the study's teacher (diffusion).
        case teacher
        /// From scratch for the whole budget.
        case scratch
        /// From the teacher's EMA at `iterations`, for the remaining `consistency_iterations` (MCM's initialisation).
        case teacherEMA
        /// From a model of this method trained from scratch for the first part of the budget (`split`), whose EMA it
        /// tunes for the rest: ECT tunes an EDM diffusion model as MCT tunes the teacher; `distilling`, that EMA is also
        /// its teacher (sCD distils the EDM model it starts from, as the sCM paper does).
        case tuning(TrainingMethod, distilling: Bool = false, split: TuningSplit = .study)
    }

    /// Where a tuning family's budget passes from its base model to the tuning.
    enum TuningSplit: Sendable, Equatable {
        /// The base trains `iterations`, the tuning `consistency_iterations` (MCT's split).
        case study
        /// The split sCD measured best for the data's kind (docs/study.md, "Presets"): half the budget each on 2-D data,
        /// where the checkerboard's 2-step SWD fell from 0.041 after 5500 + 500 iterations to 0.025 at 3000 + 3000 (and
        /// 0.026 at 4500 + 1500); three quarters to the base on images, whose U-Net teacher is still far from the data
        /// halfway (Fashion-MNIST FD at 2 steps 25.7 after 1500 + 500, 46.8 after 1000 + 1000).
        case byData

        /// The base model's iterations of `budget`, whose `iterations` come first in the study's split.
        func baseIterations(iterations: Int, budget: Int, images: Bool) -> Int {
            switch self {
            case .study: iterations
            case .byData: images ? budget * 3 / 4 : budget / 2
            }
        }

        /// The base's share in words, for results.json.
        func description(images: Bool) -> String {
            switch self {
            case .study: "iterations"
            case .byData: images ? "three quarters of the budget" : "half the budget"
            }
        }
    }

    /// Whose network and optimizer a family trains with.
    enum Defaults: Sendable {
        /// The study's: its network, and the preset's rate (the teacher on diffusion's schedule, the rest at
        /// `consistency_lr`, constant).
        case study
        /// `steplab train`'s for the method: its time inputs, time scale, loss weighting and rate, constant.
        case method
    }

    /// The seeds a family trains on.
    enum Seeds: Sendable {
        case all
        /// The first `one_step_seeds`: the models a run can afford only once (CD evaluates its teacher every step).
        case oneStep
    }

    /// What the report examines of a family beyond its rows (seed 0's models).
    enum Examination: Sendable {
        /// The loss figure plots its training loss, per S.
        case trainingLoss
        /// The diagnostics split its loss by segment (a multistep model's, `MultistepConsistencyObjective`).
        case segmentLoss
    }

    let method: TrainingMethod
    /// The name in figures and prose.
    let label: String
    /// The step counts its rows are scored at; a multistep method trains a model per count (its segments).
    let steps: [Int]
    /// The samplers each step count is scored with; the first names the rows other families are judged against.
    let samplers: [ModelSampler]
    let start: Start
    let defaults: Defaults
    /// Added to the run's seed for the weights a model from scratch starts from (CT and CD start alike, as do the
    /// recipes).
    let weightsSeed: Int
    let seeds: Seeds
    /// Where its model lives, for the diagnostics' exact-ODE distance.
    let space: DiagnosedModel.Space
    /// The stream a consistency sampler's fresh noise between steps is drawn from.
    let renoise: RandomStream
    /// What its rows are judged against, in order (`StudyIntervals.pairs`).
    let pairings: [StudyPairing]
    let examinations: Set<Examination>
    /// What the diagnostics' gradient spread asks of its model (a newer recipe's "why" row).
    let probe: GradientSpreadProbe?

    /// A family; the defaults are a newer recipe's: `steplab train`'s defaults for the method, from scratch for the
    /// budget on the one-step seeds, scored with its default sampler and judged row by row against 64-step
    /// diffusion, MCT with as many segments and (at one step) CT.
    init(method: TrainingMethod, name: String? = nil, label: String, steps: [Int], samplers: [ModelSampler]? = nil, start: Start = .scratch,
         defaults: Defaults = .method, weightsSeed: Int = 300, seeds: Seeds = .oneStep, space: DiagnosedModel.Space,
         renoise: RandomStream = .studyRecipeRenoise, pairings: [StudyPairing] = [.alongside([.mct, .ct])],
         examinations: Set<Examination> = [], probe: GradientSpreadProbe? = nil) {
        self.method = method; self.name = name ?? method.name; self.label = label; self.steps = steps
        self.samplers = samplers ?? [method.defaultSampler(segments: 1).sampler]
        self.start = start; self.defaults = defaults; self.weightsSeed = weightsSeed; self.seeds = seeds; self.space = space
        self.renoise = renoise; self.pairings = pairings; self.examinations = examinations
        self.probe = probe
    }

    /// The name in `--recipes`, results.json and the configurations: the method's, unless two families share it.
    let name: String
    /// The sampler of the rows other families are judged against.
    var sampler: String { samplers[0].name }
    /// Diffusion: its few-step samples are poor by design, not diverged, and its rows are named by steps, not segments.
    var isTeacher: Bool { start == .teacher }
    /// Whether it learns from the study's teacher's outputs (CD, MCD) rather than from data alone.
    var distils: Bool { method.needsTeacher }
    /// Whether it is scored at one step only ("one-step CT").
    var isOneStep: Bool { steps == [1] }

    /// The configuration of its row at `steps` with its first sampler.
    func configuration(_ steps: Int) -> String { StudyRow.configuration(name, segments: steps, sampler: sampler) }

    /// How it starts, in the answer's words.
    var startDescription: String {
        switch start {
        case .teacher, .scratch: "from scratch"
        case .teacherEMA: "tuning the teacher"
        case let .tuning(base, distilling, _): distilling ? "distilling \(base.name)" : "tuning \(base.name)"
        }
    }
}
