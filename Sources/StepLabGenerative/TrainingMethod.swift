import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine

/// The training methods StepLab implements (the names are the CLI's `--method` values).
public enum Method: String, CaseIterable, Sendable, Codable {
    /// Diffusion on the VP cosine schedule.
    case diffusion
    /// Diffusion in EDM sigma space (Karras et al. 2022).
    case edm
    /// One-step consistency training, iCT recipe.
    case ct
    /// One-step consistency distillation from a diffusion teacher (one Heun step).
    case cd
    /// Multistep consistency training (MCM).
    case mct
    /// Multistep consistency distillation (MCM, aDDIM teacher).
    case mcd
    /// MeanFlow: the average velocity u(z, r, t) of a flow-matching path, trained by the MeanFlow identity through the
    /// network's JVP (Geng et al. 2025); one or a few jumps.
    case meanflow
    /// Shortcut models: flow matching conditioned on the step size d, with self-consistency targets of two half
    /// jumps from the EMA weights (Frans et al. 2025); no JVP.
    case shortcut
    /// Easy Consistency Tuning: a one-step (or few-step) consistency model tuned from an `edm` diffusion run
    /// (`--init`) over pairs whose gap shrinks in stages (Geng et al. 2024).
    case ect
    /// Continuous-time consistency in TrigFlow (Lu & Song 2024): sCT, or with `--teacher` (an `edm` run) sCD; the
    /// network's time derivative by its JVP, normalised tangents with a warm-up and a learned adaptive weighting.
    case scm

    public var needsTeacher: Bool { self == .cd || self == .mcd }
    /// Whether `--teacher` may be given: required by cd and mcd, optional for scm (sCD).
    public var acceptsTeacher: Bool { needsTeacher || self == .scm }
    /// Whether the model lives in EDM sigma space (else on the VP schedule).
    public var isEDM: Bool { self == .edm || self == .ct || self == .cd || self == .ect || self == .scm }
    /// Where the method's model lives, in words: a model can start (`--init`) only from a run of the same space.
    public var space: String {
        switch self {
        case .edm, .ct, .cd, .ect, .scm: "EDM sigma space"
        case .diffusion, .mct, .mcd: "the VP schedule"
        case .meanflow, .shortcut: "the flow z_t = (1 - t) x + t eps"
        }
    }

    /// Whether the method tunes a trained model (`--init`) rather than training from scratch.
    public var needsInit: Bool { self == .ect }

    /// The sampler `sample` uses unless told otherwise, and its default step count.
    public func defaultSampler(segments: Int) -> (name: String, steps: Int) {
        switch self {
        case .diffusion: ("ddim", 64)
        case .edm: ("heun", 32)
        case .ct, .cd, .ect: ("cm", 1)
        case .scm: ("scm", 1)
        case .mct, .mcd: ("ddim", segments)
        case .meanflow: ("meanflow", 1)
        case .shortcut: ("shortcut", 1)
        }
    }

    /// The AdamW learning rate `steplab train` uses unless told otherwise; `initialised` says whether the run starts
    /// from another run's weights (`--init`). Consistency objectives regress onto targets made by the model itself:
    /// tuned from a diffusion model at diffusion's rate their 4-step samples stayed 2.4-6.7x the noise floor on the
    /// 2-D sets, against 1.3-2.7x at 2e-4 (the consistency-model papers tune at 1e-4 to 4e-4 too); from scratch the
    /// network must first learn the data, and 1e-3 served MCT S = 4 best of 2e-4, 1e-3 and 2e-3 on both quick sets
    /// (bench/results/README.md, "Defaults").
    public func defaultLearningRate(initialised: Bool) -> Float {
        switch self {
        case .diffusion, .edm: 2e-3
        case .ct, .cd, .mct, .mcd, .scm: initialised ? 2e-4 : 1e-3
        case .ect: 2e-4
        case .meanflow, .shortcut: 1e-3
        }
    }

    /// The multiplier of the network's time inside its sinusoidal embedding unless told otherwise. sCM trains on the
    /// network's time derivative, which embedding frequencies up to 1000 rad per unit of c_noise swamp (the paper's
    /// Fig. 4): at 1000, 2000 iterations of sCT on eight Gaussians scored SWD 1.61 at one step, at 1 0.16 (the floor 0.12;
    /// docs/methods.md). The others keep DDPM's step-index convention.
    public var defaultTimeScale: Float { self == .scm ? 1 : 1000 }

    /// Times per sample its network reads (nil: one): MeanFlow's (t, t - r), a shortcut model's (t, d).
    public var timeInputs: Int? { self == .meanflow || self == .shortcut ? 2 : nil }

    /// Features of the learned loss weighting its network carries (nil: none): sCM's w(t).
    public var weighting: Int? { self == .scm ? SCMConfig.weightingFeatures : nil }

    /// Samplers that fit this method's model.
    public var samplers: [String] {
        switch self {
        case .diffusion, .mct, .mcd: ["ddim", "addim", "early-exit"]
        case .edm: ["euler", "heun"]
        case .ct, .cd, .ect: ["cm"]
        case .scm: ["scm", "euler", "heun"]
        case .meanflow: ["meanflow"]
        case .shortcut: ["shortcut"]
        }
    }
}
