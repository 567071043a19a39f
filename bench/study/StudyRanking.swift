import Foundation
import StepLabData

/// Which model is best at one step count, and which cannot be told from it. Every family scored at the count
/// competes with its first sampler; the one with the lowest interval estimate (SWD, or FD for images) leads, and its
/// paired difference against each other decides whether it is better than that model or not separable from it.
struct StudyRanking: Codable {
    /// Sampling steps (a multistep model's segments).
    var steps: Int
    /// The leader's configuration.
    var leader: String
    /// The leader's distance: its interval's estimate over the seeds it has.
    var distance: Double
    /// The leader (`a`) against every other model scored at `steps`, in the families' order.
    var comparisons: [StudyComparison]

    /// The step counts the report ranks: where the newer recipes and the multistep models meet.
    static let counts = [1, 2, 4]

    /// The rankings of `families` at `counts`, over the configurations with an interval in `estimates` (the results'
    /// `intervals`; a model whose samples were not finite has none), whose paired differences `intervals` bootstraps;
    /// nil where fewer than two compete.
    static func rank(_ families: [StudyFamily], at counts: [Int] = counts, estimates: [String: ConfidenceInterval],
                     intervals: StudyIntervals) -> [StudyRanking] {
        counts.compactMap { steps in
            let contenders = families.filter { $0.steps.contains(steps) }.compactMap { family in
                estimates[family.configuration(steps)].map { (configuration: family.configuration(steps), distance: $0.estimate) }
            }
            // The first of equal distances leads: the families' order decides ties.
            guard contenders.count > 1, let leader = contenders.min(by: { $0.distance < $1.distance }) else { return nil }
            let comparisons = contenders.filter { $0.configuration != leader.configuration }.compactMap { other in
                intervals.difference(leader.configuration, other.configuration).map {
                    StudyComparison(a: leader.configuration, b: other.configuration, difference: $0)
                }
            }
            return StudyRanking(steps: steps, leader: leader.configuration, distance: leader.distance, comparisons: comparisons)
        }
    }

    /// The models the leader beats, those it cannot be told from, and those the paired intervals put ahead of it: the
    /// leader is chosen on its own seeds, a pair is judged on the seeds both have (the recipes train on fewer).
    var byVerdict: (better: [StudyComparison], notSeparable: [StudyComparison], worse: [StudyComparison]) {
        (comparisons.filter { $0.verdict == "better" }, comparisons.filter { $0.verdict == "not separable" },
         comparisons.filter { $0.verdict == "worse" })
    }
}
