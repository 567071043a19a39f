import OpenCLKit
import StepLabEngine

// Consistency objectives regress onto targets made by the model itself: tuned from a diffusion model at diffusion's
// rate, their 4-step samples stayed far above the noise floor, so runs with `--init` tune at 2e-4 (the
// consistency-model papers tune at 1e-4 to 4e-4 too); from scratch the network must first learn the data, and 1e-3
// serves (bench/results/README.md, "Defaults").
private let consistencyRate: @Sendable (Bool) -> Float = { initialised in initialised ? 2e-4 : 1e-3 }

extension TrainingMethod {
    /// Every method, in the order the CLI lists them.
    public static let all: [TrainingMethod] = [diffusion, edm, ct, cd, mct, mcd, meanflow, shortcut, ect, scm]

    /// Diffusion on the VP cosine schedule.
    public static let diffusion = TrainingMethod(
        name: "diffusion", space: .vp, samplers: [.ddim, .addim, .earlyExit], defaultSteps: { _ in 64 }, learningRate: { _ in 2e-3 }
    ) { r throws(OpenCLError) in
        try DiffusionObjective(model: r.model, batch: r.shard.rows, seed: r.seed, firstRow: r.shard.firstRow)
    }

    /// Diffusion in EDM sigma space (Karras et al. 2022).
    public static let edm = TrainingMethod(
        name: "edm", space: .edm, samplers: [.heun, .euler], defaultSteps: { _ in 32 }, learningRate: { _ in 2e-3 }
    ) { r throws(OpenCLError) in
        try EDMDiffusionObjective(model: r.model, batch: r.shard.rows, seed: r.seed, firstRow: r.shard.firstRow)
    }

    /// One-step consistency training, iCT recipe.
    public static let ct = consistency("ct", distils: false)
    /// One-step consistency distillation from a diffusion teacher (one Heun step).
    public static let cd = consistency("cd", distils: true)

    private static func consistency(_ name: String, distils: Bool) -> TrainingMethod {
        TrainingMethod(name: name, space: .edm, teacherMethod: distils ? "diffusion" : nil, needsTeacher: distils, samplers: [.consistency],
                       learningRate: consistencyRate) { r throws(OpenCLError) in
            try ConsistencyObjective(model: r.model, config: ConsistencyConfig(totalIterations: r.iterations), teacher: distils ? r.teacher : nil,
                                     batch: r.shard.rows, seed: r.seed, firstRow: r.shard.firstRow)
        }
    }

    /// Multistep consistency training (MCM).
    public static let mct = multistep("mct", distils: false)
    /// Multistep consistency distillation (MCM, aDDIM teacher).
    public static let mcd = multistep("mcd", distils: true)

    private static func multistep(_ name: String, distils: Bool) -> TrainingMethod {
        TrainingMethod(name: name, space: .vp, teacherMethod: distils ? "diffusion" : nil, needsTeacher: distils, usesSegments: true,
                       samplers: [.ddim, .addim, .earlyExit], defaultSteps: { $0 }, learningRate: consistencyRate) { r throws(OpenCLError) in
            try MultistepConsistencyObjective(model: r.model, config: MultistepConfig(segments: r.segments, annealSteps: r.annealSteps),
                                              teacher: distils ? r.teacher : nil, batch: r.shard.rows, seed: r.seed, firstRow: r.shard.firstRow)
        }
    }

    /// MeanFlow: the average velocity u(z, r, t) of a flow-matching path, trained by the MeanFlow identity through the
    /// network's JVP (Geng et al. 2025); one or a few jumps. Its network reads (t, t - r).
    public static let meanflow = TrainingMethod(
        name: "meanflow", space: .flow, samplers: [.meanflow], learningRate: { _ in 1e-3 }, timeInputs: 2
    ) { r throws(OpenCLError) in
        try MeanFlowObjective(model: r.model, batch: r.shard.rows, seed: r.seed, firstRow: r.shard.firstRow)
    }

    /// Shortcut models: flow matching conditioned on the step size d, with self-consistency targets of two half
    /// jumps from the EMA weights (Frans et al. 2025); no JVP. Its network reads (t, d).
    public static let shortcut = TrainingMethod(
        name: "shortcut", space: .flow, samplers: [.shortcut], learningRate: { _ in 1e-3 }, timeInputs: 2
    ) { r throws(OpenCLError) in
        try ShortcutObjective(model: r.model, batch: r.shard.rows, globalBatch: r.batch, seed: r.seed, firstRow: r.shard.firstRow)
    }

    /// Easy Consistency Tuning: a one-step (or few-step) consistency model tuned from an `edm` diffusion run
    /// (`--init`) over pairs whose gap shrinks in stages (Geng et al. 2024). Its time embedding defaults to scale 1:
    /// the last stage's pair differs by 0.4% (high noise) to 2% (low noise) in sigma, which turns the top frequency of
    /// a scale-1000 embedding of c_noise = ln(sigma) / 4 by 1 to 5 radians, so the two noise levels the loss ties
    /// together reach the network as unrelated inputs (docs/methods.md, ECT).
    public static let ect = TrainingMethod(
        name: "ect", space: .edm, needsInit: true, samplers: [.consistency], learningRate: { _ in 2e-4 }, defaultTimeScale: 1
    ) { r throws(OpenCLError) in
        try ECTObjective(model: r.model, config: ECTConfig(totalIterations: r.iterations), batch: r.shard.rows, seed: r.seed,
                         firstRow: r.shard.firstRow)
    }

    /// Continuous-time consistency in TrigFlow (Lu & Song 2024): sCT, or with `--teacher` (an `edm` run) sCD; the
    /// network's time derivative by its JVP, normalised tangents with a warm-up and a learned adaptive weighting w(t).
    /// Its time embedding defaults to scale 1: sCM trains on the network's time derivative, which embedding
    /// frequencies up to 1000 rad per unit of c_noise swamp (the paper's Fig. 4; docs/methods.md).
    public static let scm = TrainingMethod(
        name: "scm", space: .edm, teacherMethod: "edm", samplers: [.scm, .euler, .heun], learningRate: consistencyRate,
        defaultTimeScale: 1, weighting: SCMConfig.weightingFeatures
    ) { r throws(OpenCLError) in
        try SCMObjective(model: r.model, config: SCMConfig(totalIterations: r.iterations), teacher: r.teacher, batch: r.shard.rows,
                         seed: r.seed, firstRow: r.shard.firstRow)
    }
}
