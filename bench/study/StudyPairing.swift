import StepLabGenerative

/// What a family's rows are judged against: the pairs (row, other row) whose paired differences `StudyIntervals`
/// bootstraps and the report and answer read.
enum StudyPairing: Sendable {
    /// Each row against 64-step diffusion.
    case teacher
    /// Each S against the next (2S).
    case doubling
    /// One step against each of these S (the answer's question).
    case oneStepAgainst([Int])
    /// At these counts, against the teacher's DDIM with as many steps.
    case teacherAtSameSteps([Int])
    /// Row by row: against 64-step diffusion, then against the rows of each of these methods' standard family
    /// (`families`) with as many steps, where that family is scored at the count; each step count's verdicts read together (`StudyAnswer.alongside`).
    case alongside([TrainingMethod])

    /// Whether its pairs follow every family's blocks against the teacher and itself: the comparisons with other
    /// models at as many steps come last, in the order the reports have always listed them.
    var atSameSteps: Bool {
        switch self {
        case .teacher, .doubling, .oneStepAgainst: false
        case .teacherAtSameSteps, .alongside: true
        }
    }

    /// Every pairing of `families`, in the order the comparisons list them: each family's in turn, those at the same
    /// steps after all the others.
    static func ordered(_ families: [StudyFamily]) -> [(family: StudyFamily, pairing: StudyPairing)] {
        [false, true].flatMap { late in
            families.flatMap { family in family.pairings.filter { $0.atSameSteps == late }.map { (family, $0) } }
        }
    }

    /// The families `.alongside(methods)` judges against: each method's standard family. A method alone does not name a
    /// family among the recipes (sCT and sCD are both `scm`), so those are not looked up.
    static func families(_ methods: [TrainingMethod]) -> [StudyFamily] {
        methods.compactMap { method in StudyFamily.standard.first { $0.method == method } }
    }

    /// The pairs of `family`'s rows.
    func pairs(_ family: StudyFamily) -> [(a: String, b: String)] {
        let teacher = StudyFamily.teacherConfiguration
        switch self {
        case .teacher:
            return family.steps.map { (family.configuration($0), teacher) }
        case .doubling:
            return zip(family.steps, family.steps.dropFirst()).map { (family.configuration($0), family.configuration($1)) }
        case let .oneStepAgainst(counts):
            return counts.filter { family.steps.contains(1) && family.steps.contains($0) }.map { (family.configuration(1), family.configuration($0)) }
        case let .teacherAtSameSteps(counts):
            return counts.filter { family.steps.contains($0) && StudyFamily.diffusion.steps.contains($0) }
                .map { (family.configuration($0), StudyFamily.diffusion.configuration($0)) }
        case let .alongside(methods):
            let others = Self.families(methods)
            return family.steps.flatMap { steps in
                [(family.configuration(steps), teacher)] + others.filter { $0.steps.contains(steps) }.map { (family.configuration(steps), $0.configuration(steps)) }
            }
        }
    }
}
