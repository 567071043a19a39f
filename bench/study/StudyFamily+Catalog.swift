import Foundation
import StepLabGenerative

extension StudyFamily {
    /// The families every run trains, in the order the report, the answer and the figures list them.
    static let standard = [diffusion, mct, mcd, ct, cd]
    /// The newer recipes a run adds by `--recipes` name, on the one-step seeds.
    static let recipes = [scm, scd, meanflow, shortcut, ect]
    /// Every family.
    static let all = standard + recipes

    /// The model the seed's claim is about (one step against S = 2, 4, 8): a run without intervals quotes its means.
    static let claim = mct
    /// 64-step DDIM on the teacher: what every model is judged against, and what the gate judges.
    static let teacherConfiguration = diffusion.configuration(64)

    /// Diffusion on the VP schedule, sampled with DDIM (and aDDIM where the preset affords it) at 1 to 64 steps; its
    /// EMA at `iterations` teaches CD and MCD and initialises MCT and MCD.
    static let diffusion = StudyFamily(method: .diffusion, label: "diffusion", steps: [1, 2, 4, 8, 16, 32, 64], samplers: [.ddim, .addim],
                                       start: .teacher, defaults: .study, weightsSeed: 100, seeds: .all, space: .vp, pairings: [])

    /// Multistep consistency training (MCM) at S = 1 to 16, tuned from the teacher; the claim's model.
    static let mct = multistep(.mct, label: "MCT", examinations: [.trainingLoss, .segmentLoss],
                               pairings: [.teacher, .doubling, .oneStepAgainst(StudyAnswer.steps), .teacherAtSameSteps([8])])
    /// Multistep consistency distillation from the teacher, at S = 1 to 16.
    static let mcd = multistep(.mcd, label: "MCD", pairings: [.teacher, .doubling, .oneStepAgainst(StudyAnswer.steps)])

    private static func multistep(_ method: TrainingMethod, label: String, examinations: Set<Examination> = [],
                                  pairings: [StudyPairing]) -> StudyFamily {
        StudyFamily(method: method, label: label, steps: [1, 2, 4, 8, 16], start: .teacherEMA, defaults: .study, seeds: .all, space: .vp,
                    pairings: pairings, examinations: examinations)
    }

    /// One-step consistency training (iCT recipe, EDM sigma space) from scratch for the budget.
    static let ct = oneStep(.ct, label: "CT")
    /// One-step consistency distillation from the teacher, from scratch for the budget.
    static let cd = oneStep(.cd, label: "CD")

    private static func oneStep(_ method: TrainingMethod, label: String) -> StudyFamily {
        StudyFamily(method: method, label: label, steps: [1], defaults: .study, weightsSeed: 200, space: .edm(boundary: true),
                    renoise: .studyConsistencyRenoise, pairings: [.teacher])
    }

    /// sCT: continuous-time consistency training.
    static let scm = StudyFamily(method: .scm, label: "sCT", steps: [1, 2, 4], space: .edm(boundary: false),
                                 probe: .tangentNormalization)
    /// sCD: continuous-time consistency distillation of an EDM diffusion model trained for the first half of the budget
    /// (three quarters on images), starting from it (the sCM paper's initialisation); judged against the multistep models and one-step CT and CD.
    static let scd = StudyFamily(method: .scm, name: "scd", label: "sCD", steps: [1, 2, 4], start: .tuning(.edm, distilling: true, split: .byData),
                                 space: .edm(boundary: false), pairings: [.alongside([.mct, .mcd, .ct, .cd])])
    /// MeanFlow: the average velocity through the network's JVP.
    static let meanflow = StudyFamily(method: .meanflow, label: "MeanFlow", steps: [1, 2, 4], space: .flow, probe: .meanFlowJumps)
    /// Shortcut models: flow matching conditioned on the step size, self-consistent over two half jumps.
    static let shortcut = StudyFamily(method: .shortcut, label: "Shortcut", steps: [1, 2, 4], space: .flow, probe: .shortcutTargets)
    /// Easy Consistency Tuning of an EDM diffusion model trained for the first part of the budget.
    static let ect = StudyFamily(method: .ect, label: "ECT", steps: [1, 2, 4], start: .tuning(.edm), space: .edm(boundary: true),
                                 probe: .ectGap)

    /// The recipes named in a comma-separated list ("none": no recipe, "all": every one), in its order; nil when it
    /// names an unknown one.
    static func recipes(named list: String) -> [StudyFamily]? {
        if list == "none" { return [] }
        if list == "all" { return recipes }
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let named = names.compactMap { name in recipes.first { $0.name == name } }
        return named.count == names.count ? named : nil
    }
}
