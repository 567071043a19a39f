import Foundation
import StepLabGenerative

/// The paragraph every report opens with: what the run shows about the seed's claim (one step against S = 2, 4, 8,
/// and each S against 64-step diffusion), computed from the paired intervals by the verdict rule, and what could not
/// be decided and why.
enum StudyAnswer {
    /// The segment counts the answer weighs one step against.
    static let steps = [2, 4, 8]

    /// The opening paragraph of a report over the data sets `sets` (name and results).
    static func paragraph(_ sets: [(data: String, results: StudyResults)]) -> String {
        "**The answer.** " + sets.map { sentence($0.results, data: $0.data) }.joined(separator: " ")
    }

    /// What one data set's run decides.
    static func sentence(_ r: StudyResults, data: String) -> String {
        guard let gate = r.teacherGate else { return "On \(data) nothing is decided: there is no 64-step diffusion result." }
        guard gate.passes else {
            // The same two cases as the gate's own rule: the excess's interval where there is one, the ratio otherwise.
            let measured = if let excess = gate.excess, let allowance = gate.allowance {
                "its \(gate.metric) exceeds the noise floor by \(excess.formatted()), more than the \(String(format: "%.4f", allowance)) allowed"
            } else {
                String(format: "it scores %.2fx the noise floor", gate.ratio)
            }
            return "On \(data) nothing is decided: the diffusion teacher failed the gate (\(measured)), so every model compared is under-fit at this budget."
        }
        guard !r.comparisons.isEmpty else {
            return "On \(data) (teacher gate passed) the numbers are means without intervals, so no verdict is drawn: " + means(r) + "."
        }
        let lines = StudyFamily.all.flatMap { family in
            family.pairings.compactMap { pairing -> String? in
                switch pairing {
                case let .oneStepAgainst(counts): method(r, family, against: counts)
                case let .alongside(methods): alongside(r, family, methods)
                case .teacher, .doubling, .teacherAtSameSteps: nil
                }
            }
        }
        return "On \(data) (teacher gate passed): " + lines.joined(separator: " ")
    }

    /// The line of a family judged row by row (`StudyPairing.alongside`): at each step count against 64-step
    /// diffusion and against each of `methods` with as many steps.
    static func alongside(_ r: StudyResults, _ family: StudyFamily, _ methods: [TrainingMethod]) -> String? {
        let others = StudyPairing.families(methods)
        let clauses = family.steps.compactMap { steps -> String? in
            let row = family.configuration(steps)
            guard let against = r.comparisons.between(row, StudyFamily.teacherConfiguration) else { return nil }
            let more = others.compactMap { other in
                r.comparisons.between(row, other.configuration(steps)).map {
                    ", \(verdict($0)) \(other.isOneStep ? other.label : "\(other.label) S = \(steps)") (\($0.difference.formatted()))"
                }
            }
            return "at \(steps) step\(steps == 1 ? "" : "s") \(verdict(against)) 64-step diffusion (\(against.difference.formatted()))"
                + more.joined()
        }
        let seeds = r.summary.first { $0.method == family.name }?.seeds ?? 0
        return clauses.isEmpty ? nil : "\(family.label) (\(family.startDescription), \(seeds) seed\(seeds == 1 ? "" : "s")) is " + list(clauses) + "."
    }

    /// The paragraph that names the best model at 1, 2 and 4 steps on each data set (`StudyRanking`) and those it
    /// cannot be told from, then the leaders every set agrees on; nil when no set was ranked.
    static func best(_ sets: [(data: String, results: StudyResults)]) -> String? {
        let lines = sets.compactMap { ranked($0.results, data: $0.data) }
        guard !lines.isEmpty else { return nil }
        return "**Best at \(list(StudyRanking.counts.map(String.init))) steps.** " + lines.joined(separator: " ") + agreement(sets)
    }

    /// One data set's rankings: "On checkerboard: at 1 step sCD (SWD 0.0912) is best, better than ...; at 2 steps ...".
    static func ranked(_ r: StudyResults, data: String) -> String? {
        guard !r.rankings.isEmpty else { return nil }
        guard r.teacherGate?.passes ?? true else { return "On \(data) no model is ranked: the diffusion teacher failed the gate." }
        return "On \(data): " + r.rankings.map { clause($0, metric: r.metricName) }.joined(separator: "; ") + "."
    }

    /// The leader at one step count, whom it beats and whom it cannot be told from, with the paired differences
    /// where the verdict is not "better".
    static func clause(_ ranking: StudyRanking, metric: String) -> String {
        let (better, tied, worse) = ranking.byVerdict
        let label = { (configuration: String) in Self.label(configuration, steps: ranking.steps) }
        let withDifferences = { (cs: [StudyComparison]) in list(cs.map { "\(label($0.b)) (\($0.difference.formatted()))" }) }
        let distance = String(format: metric == "FD" ? "%.2f" : "%.4f", ranking.distance)
        let at = "at \(ranking.steps) step\(ranking.steps == 1 ? "" : "s") \(label(ranking.leader)) (\(metric) \(distance))"
        if tied.isEmpty && worse.isEmpty { return at + " is best, better than " + list(better.map { label($0.b) }) }
        var text = at + " leads"
        if !tied.isEmpty { text += " but is not separable from " + withDifferences(tied) }
        if !worse.isEmpty { text += (tied.isEmpty ? " but" : " and") + " is worse than " + withDifferences(worse) + " on the seeds both have" }
        if !better.isEmpty { text += ", and better than " + list(better.map { label($0.b) }) }
        return text
    }

    /// " On every data set sCD leads at 2 and 4 steps." where two or more sets, all past their gates, agree.
    static func agreement(_ sets: [(data: String, results: StudyResults)]) -> String {
        guard sets.count > 1, sets.allSatisfy({ $0.results.teacherGate?.passes ?? true }) else { return "" }
        var leaders: [(label: String, steps: [Int])] = []
        for steps in StudyRanking.counts {
            let names = Set(sets.map { set in set.results.rankings.first { $0.steps == steps }.map { label($0.leader, steps: steps) } ?? "" })
            guard names.count == 1, let name = names.first, !name.isEmpty else { continue }
            if let i = leaders.firstIndex(where: { $0.label == name }) { leaders[i].steps.append(steps) } else { leaders.append((name, [steps])) }
        }
        guard !leaders.isEmpty else { return " No model leads at the same step count on every data set." }
        return " On every data set " + list(leaders.map { leader in
            "\(leader.label) leads at \(list(leader.steps.map(String.init))) step\(leader.steps == [1] ? "" : "s")"
        }) + "."
    }

    /// The name of the family whose row at `steps` is `configuration`, as the prose calls it.
    static func label(_ configuration: String, steps: Int) -> String {
        guard let family = StudyFamily.all.first(where: { $0.steps.contains(steps) && $0.configuration(steps) == configuration }) else {
            return configuration
        }
        return family.isTeacher ? "diffusion's DDIM" : family.label
    }

    /// "better than", "worse than" or "not separable from".
    static func verdict(_ c: StudyComparison) -> String { c.verdict == "not separable" ? "not separable from" : "\(c.verdict) than" }

    /// A multistep family's line: one step against S = `counts`, and the first S that 64-step diffusion does not beat.
    static func method(_ r: StudyResults, _ family: StudyFamily, against counts: [Int]) -> String? {
        let name = family.configuration
        let against = counts.compactMap { s in r.comparisons.between(name(1), name(s)).map { (s, $0) } }
        guard !against.isEmpty else { return nil }
        let label = family.label
        // Runs of one verdict read as one clause: "worse than S = 2 (...) and S = 4 (...), not separable from S = 8 (...)".
        var clauses: [(verdict: String, items: [String])] = []
        for (s, c) in against {
            let item = "S = \(s) (\(c.difference.formatted()))"
            if clauses.last?.verdict == c.verdict { clauses[clauses.count - 1].items.append(item) } else { clauses.append((c.verdict, [item])) }
        }
        let oneStep = "\(label) at one step is " + clauses.map { clause in
            (clause.verdict == "not separable" ? "not separable from " : "\(clause.verdict) than ") + list(clause.items)
        }.joined(separator: ", ")
        let diffusion = StudyFamily.teacherConfiguration
        let bySegments = r.summary.filter { $0.method == family.name }.map(\.segments).sorted()
        let reaching = bySegments.compactMap { s in r.comparisons.between(name(s), diffusion).map { (s, $0) } }
        let match: String
        if let (s, c) = reaching.first(where: { $0.1.verdict != "worse" }) {
            match = "first reaches 64-step diffusion at S = \(s) (\(c.verdict == "better" ? "better" : "not separable"): \(c.difference.formatted()))"
        } else if let (s, c) = reaching.last {
            match = "does not reach 64-step diffusion up to S = \(s) (worse by \(c.difference.formatted()))"
        } else {
            match = "has no comparison with 64-step diffusion"
        }
        return oneStep + "; \(label) " + match + "."
    }

    /// "a", "a and b", "a, b and c".
    static func list(_ items: [String]) -> String {
        items.count <= 1 ? items.joined() : items.dropLast().joined(separator: ", ") + " and " + items.last!
    }

    /// A run without intervals: the means the table shows of the claim's model at one step and S = 2, 4, 8, and of
    /// 64-step diffusion.
    static func means(_ r: StudyResults) -> String {
        func mean(_ configuration: String) -> Double? { r.summary.first { $0.configuration == configuration }?.primaryMean }
        let claim = StudyFamily.claim
        let multistep = ([1] + steps).compactMap { s in
            mean(claim.configuration(s)).map { String(format: "%@ S = %d %@ %.3f", claim.label, s, r.metricName, $0) }
        }
        return multistep.joined(separator: ", ")
            + (mean(StudyFamily.teacherConfiguration).map { String(format: ", against 64-step diffusion's %.3f", $0) } ?? "")
    }
}
