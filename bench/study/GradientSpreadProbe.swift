import StepLabEngine
import StepLabGenerative

/// What a newer recipe changes about the gradient a jump is learned from: the relative variance of its network's
/// gradient over minibatches at seed 0's trained parameters (the measure the multistep-CT rows take against S), under
/// its objective as trained and under variants that switch off, or push to the limit, the part that recipe adds.
struct GradientSpreadProbe: Sendable {
    /// One setting of the objective.
    struct Variant: Sendable {
        /// How the report names it.
        let label: String
        /// The objective on `model`, for a run of `budget` iterations at `batch` rows, its random streams seeded `seed`.
        let make: @Sendable (_ model: Denoiser, _ budget: Int, _ batch: Int, _ seed: UInt64) throws -> any TrainingObjective
    }

    /// What the comparison asks, for the report: "what normalising the tangent changes".
    let question: String
    /// The objective as trained first, then the variants it is read against.
    let variants: [Variant]

    /// sCT: the tangent g / (|g| + c) as trained (c = 0.1) against the raw tangent (c = 1e6, where g / (|g| + c) is
    /// g / c, whose relative variance is g's).
    static let tangentNormalization = GradientSpreadProbe(question: "what normalising the tangent changes", variants: [
        scm("tangent normalised as trained (c = \(SCMConfig(totalIterations: 1).normalization))", normalization: nil),
        scm("raw tangent (c = 1e6)", normalization: 1e6),
    ])

    /// `normalization` nil: sCT's own.
    private static func scm(_ label: String, normalization: Float?) -> Variant {
        Variant(label: label) { model, budget, batch, seed in
            var config = SCMConfig(totalIterations: budget)
            if let normalization { config.normalization = normalization }
            return try SCMObjective(model: model, config: config, batch: batch, seed: seed)
        }
    }

    /// MeanFlow: its share of rows that learn a jump (r != t, whose target carries the JVP term) against none (plain
    /// flow matching of the instantaneous velocity) and all.
    static let meanFlowJumps = GradientSpreadProbe(question: "what learning jumps (r != t) rather than velocities costs", variants: [
        meanFlow("as trained (\(Int(100 * MeanFlowConfig().ratio))% of rows r != t)", ratio: MeanFlowConfig().ratio),
        meanFlow("r = t on every row (flow matching)", ratio: 0),
        meanFlow("r != t on every row", ratio: 1),
    ])

    private static func meanFlow(_ label: String, ratio: Float) -> Variant {
        Variant(label: label) { model, _, batch, seed in
            var config = MeanFlowConfig()
            config.ratio = ratio
            return try MeanFlowObjective(model: model, config: config, batch: batch, seed: seed)
        }
    }

    /// Shortcut models: the self-consistency rows, whose targets are the model's own two half jumps, against flow
    /// matching's targets drawn from the data.
    static let shortcutTargets = GradientSpreadProbe(question: "what self-consistency targets change against data targets", variants: [
        shortcut("as trained (1 row in \(ShortcutConfig().bootstrapEvery) self-consistent)", every: ShortcutConfig().bootstrapEvery),
        shortcut("one self-consistent row (flow matching otherwise)", every: nil),
        shortcut("every row self-consistent", every: 1),
    ])

    /// `every` nil: one row of the batch.
    private static func shortcut(_ label: String, every: Int?) -> Variant {
        Variant(label: label) { model, _, batch, seed in
            var config = ShortcutConfig()
            config.bootstrapEvery = every ?? batch
            return try ShortcutObjective(model: model, config: config, batch: batch, seed: seed)
        }
    }

    /// ECT: the gap of its last stage, where the tuning ends (sigma_lo nearest sigma_hi), against the first stage's,
    /// where its curriculum starts from the diffusion model.
    static let ectGap = GradientSpreadProbe(question: "what shrinking the gap (t - r) changes", variants: [
        ect("the last stage's gap, as trained at the end", stages: nil),
        ect("the first stage's gap", stages: 1),
    ])

    /// `stages` nil: ECT's own; 1 keeps every step in the first stage.
    private static func ect(_ label: String, stages: Int?) -> Variant {
        Variant(label: label) { model, budget, batch, seed in
            var config = ECTConfig(totalIterations: budget)
            if let stages { config.stages = stages }
            return try ECTObjective(model: model, config: config, batch: batch, seed: seed)
        }
    }
}
