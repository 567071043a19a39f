import Foundation

/// How evenly a classifier spreads generated samples over the classes of a balanced data set: a direct view of
/// mode collapse (a model that draws only some classes) that FID and KID blur into one number.
public struct ClassCoverage: Codable, Sendable, Equatable {
    /// Samples predicted as each class.
    public let counts: [Int]
    /// `counts` divided by the number of samples.
    public let fractions: [Double]
    /// Classes that hold at least half their uniform share, `1 / (2K)` of the samples for `K` classes.
    public let coveredClasses: Int
    /// `KL(p || uniform) = sum_k p_k log(K p_k)` in nats, with `0 log 0 = 0`: 0 for a uniform spread, `log K`
    /// when every sample falls in one class.
    public let klFromUniform: Double
    /// The entropy of `fractions` divided by its maximum `log K`: 1 for a uniform spread, 0 for one class.
    /// Equal to `1 - klFromUniform / log K`.
    public let normalizedEntropy: Double

    /// The coverage of `labels`, each a predicted class in `0 ..< classes`.
    public init(labels: [Int], classes: Int) throws(DataError) {
        guard classes >= 2 else {
            throw DataError("class coverage: need at least 2 classes, got \(classes)")
        }
        guard !labels.isEmpty else {
            throw DataError("class coverage: no labels")
        }
        var counts = [Int](repeating: 0, count: classes)
        for (index, label) in labels.enumerated() {
            guard (0 ..< classes).contains(label) else {
                throw DataError("class coverage: label \(label) at index \(index) is outside 0 ..< \(classes)")
            }
            counts[label] += 1
        }
        let total = Double(labels.count), k = Double(classes)
        let fractions = counts.map { Double($0) / total }
        // Counts rather than fractions, so a share of exactly half is not lost to rounding.
        let covered = counts.filter { 2 * classes * $0 >= labels.count }.count
        let kl = fractions.reduce(0) { $0 + ($1 > 0 ? $1 * log(k * $1) : 0) }
        self.counts = counts
        self.fractions = fractions
        self.coveredClasses = covered
        self.klFromUniform = kl
        self.normalizedEntropy = 1 - kl / log(k)
    }
}
