import Foundation
import StepLabData

/// The study's bootstrap intervals on 2-D data: each configuration's SWD and the paired differences the verdicts
/// rest on, over seeds and samples (a two-stage bootstrap: seeds drawn with replacement, then one of the drawn
/// seed's resamples of points; `SlicedWassersteinBootstrap` on 16 directions per dimension, at most 64 (32 in
/// 2-D, 6 degrees apart), so the estimates differ slightly from the tables' 256-direction SWD).
struct StudyIntervals {
    /// Per configuration, per seed: the distance on the actual samples and on each resample.
    private(set) var measured: [String: [Int: (estimate: Double, replicates: [Double])]] = [:]
    static let confidence = 0.95

    mutating func record(_ configuration: String, seed: Int, _ distances: (estimate: Double, replicates: [Double])) {
        measured[configuration, default: [:]][seed] = distances
    }

    /// Records the mean over several draws of one seed (the same reference and resamples, independent samples):
    /// the estimate and each replicate averaged, so the interval is that of the mean over draws.
    mutating func record(_ configuration: String, seed: Int, draws: [(estimate: Double, replicates: [Double])]) {
        guard let first = draws.first else { return }
        let n = Double(draws.count)
        let replicates = first.replicates.indices.map { r in draws.map { $0.replicates[r] }.reduce(0, +) / n }
        record(configuration, seed: seed, (draws.map(\.estimate).reduce(0, +) / n, replicates))
    }

    /// The interval of a configuration's mean distance over the seeds it has, bias-corrected (resampled points
    /// inflate a distance), as every interval here is.
    func interval(_ configuration: String) -> ConfidenceInterval? {
        guard let seeds = measured[configuration], !seeds.isEmpty else { return nil }
        let keys = seeds.keys.sorted()
        return Bootstrap.biasCorrectedGroupedMeanInterval(estimates: keys.map { seeds[$0]!.estimate }, within: keys.map { seeds[$0]!.replicates },
                                             confidence: Self.confidence, seed: Self.seed(configuration))
    }

    /// The interval of distance(a) - distance(b), paired by seed and resample, over the seeds both have.
    func difference(_ a: String, _ b: String) -> ConfidenceInterval? {
        guard let sa = measured[a], let sb = measured[b] else { return nil }
        let keys = Set(sa.keys).intersection(sb.keys).sorted()
        guard !keys.isEmpty else { return nil }
        return Bootstrap.biasCorrectedGroupedMeanInterval(
            estimates: keys.map { sa[$0]!.estimate - sb[$0]!.estimate },
            within: keys.map { zip(sa[$0]!.replicates, sb[$0]!.replicates).map { $0 - $1 } },
            confidence: Self.confidence, seed: Self.seed(a + "|" + b))
    }

    /// The pairs the report judges: each of `families`' pairings (`StudyPairing`), each pair once.
    static func pairs(_ families: [StudyFamily]) -> [(a: String, b: String)] {
        var pairs: [(a: String, b: String)] = []
        for (family, pairing) in StudyPairing.ordered(families) {
            // One step against S = 2 is also S against 2S.
            for pair in pairing.pairs(family) where !pairs.contains(where: { $0 == pair }) { pairs.append(pair) }
        }
        return pairs
    }

    /// The intervals of `pairs` that both sides have.
    func comparisons(_ pairs: [(a: String, b: String)]) -> [StudyComparison] {
        pairs.compactMap { pair in difference(pair.a, pair.b).map { StudyComparison(a: pair.a, b: pair.b, difference: $0) } }
    }

    /// A seed per question, so every interval is reproducible and no two share their draws.
    static func seed(_ text: String) -> UInt64 {
        FNV1a.hash(text.utf8)
    }
}

/// distance(a) - distance(b) with its interval: a is better when the whole interval is below zero, worse when
/// above, and the two cannot be told apart at this budget otherwise.
struct StudyComparison: Codable {
    var a: String
    var b: String
    var difference: ConfidenceInterval

    var verdict: String {
        difference.upper < 0 ? "better" : difference.lower > 0 ? "worse" : "not separable"
    }
}

extension [StudyComparison] {
    /// The comparison of `a` against `b` (in that order), if it was made.
    func between(_ a: String, _ b: String) -> StudyComparison? { first { $0.a == a && $0.b == b } }
}
