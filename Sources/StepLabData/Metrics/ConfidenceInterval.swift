import Foundation
import StepLabEngine

/// A statistic with a two-sided confidence interval.
public struct ConfidenceInterval: Codable, Sendable, Equatable {
    public var estimate: Double
    public var lower: Double
    public var upper: Double
    /// The coverage the interval was built for (0.95 for a 95% interval).
    public var confidence: Double

    public init(estimate: Double, lower: Double, upper: Double, confidence: Double) {
        self.estimate = estimate; self.lower = lower; self.upper = upper; self.confidence = confidence
    }

    /// Whether zero lies outside the interval: a difference that the data resolve.
    public var excludesZero: Bool { lower > 0 || upper < 0 }

    /// `estimate [lower, upper]` with `digits` decimals.
    public func formatted(_ digits: Int = 4) -> String {
        func f(_ x: Double) -> String { String(format: "%.\(digits)f", x) }
        return "\(f(estimate)) [\(f(lower)), \(f(upper))]"
    }
}

/// Percentile bootstrap intervals (Efron & Tibshirani 1993, ch. 13): the statistic recomputed on resamples drawn
/// with replacement, and the interval between the resampled values' (1 - confidence) / 2 and (1 + confidence) / 2
/// quantiles. Seeded, so an interval is a pure function of its inputs.
public enum Bootstrap {
    /// The interval of `statistic` over `replicates` resamples of `count` indices; `statistic` of the identity
    /// resample (`0 ..< count`) is the estimate.
    public static func interval(count: Int, replicates: Int = 2000, confidence: Double = 0.95, seed: UInt64,
                                statistic: ([Int]) -> Double) -> ConfidenceInterval {
        var random = HostRandom(seed: seed)
        let values = (0 ..< replicates).map { _ in statistic((0 ..< count).map { _ in random.index(below: count) }) }
        return percentiles(values, estimate: statistic(Array(0 ..< count)), confidence: confidence)
    }

    /// The interval of the mean of `values`.
    public static func meanInterval(_ values: [Double], replicates: Int = 2000, confidence: Double = 0.95,
                                    seed: UInt64) -> ConfidenceInterval {
        interval(count: values.count, replicates: replicates, confidence: confidence, seed: seed) { indices in
            indices.reduce(0) { $0 + values[$1] } / Double(indices.count)
        }
    }

    /// A two-stage (hierarchical) bootstrap of the mean over groups, for a statistic measured once per group
    /// (a seed) with its own within-group bootstrap replicates (resampled points): each replicate draws the groups
    /// with replacement and, for each drawn group, one of its replicates at random. `estimates[g]` is group g's
    /// statistic on its actual data, `within[g]` its replicates.
    public static func groupedMeanInterval(estimates: [Double], within: [[Double]], replicates: Int = 2000,
                                           confidence: Double = 0.95, seed: UInt64) -> ConfidenceInterval {
        precondition(!estimates.isEmpty && estimates.count == within.count && within.allSatisfy { !$0.isEmpty },
                     "groupedMeanInterval: every group needs an estimate and replicates")
        var random = HostRandom(seed: seed)
        let groups = estimates.count
        let values = (0 ..< replicates).map { _ in
            (0 ..< groups).reduce(0.0) { sum, _ in
                let g = random.index(below: groups)
                return sum + within[g][random.index(below: within[g].count)]
            } / Double(groups)
        }
        return percentiles(values, estimate: estimates.reduce(0, +) / Double(groups), confidence: confidence)
    }

    /// `groupedMeanInterval` moved back by the bootstrap's estimate of its bias, the replicates' mean minus the
    /// estimate (Efron & Tibshirani 1993, ch. 10). A distance on points resampled with replacement is inflated
    /// (repeated points sit on each other's sorted positions less often than fresh ones), so the percentile interval of
    /// a distance lies above its estimate, and can exclude it; after the shift it brackets the estimate.
    public static func biasCorrectedGroupedMeanInterval(estimates: [Double], within: [[Double]], replicates: Int = 2000,
                                                        confidence: Double = 0.95, seed: UInt64) -> ConfidenceInterval {
        let interval = groupedMeanInterval(estimates: estimates, within: within, replicates: replicates, confidence: confidence, seed: seed)
        let replicateMean = within.map { $0.reduce(0, +) / Double($0.count) }.reduce(0, +) / Double(within.count)
        let bias = replicateMean - interval.estimate
        return ConfidenceInterval(estimate: interval.estimate, lower: interval.lower - bias, upper: interval.upper - bias,
                                  confidence: confidence)
    }

    /// A normal interval, estimate ± z SE, from the jackknife's standard error (Efron & Tibshirani 1993, ch. 11):
    /// for a smooth statistic of a few dozen items (a variance ratio over minibatches), whose bootstrap resamples
    /// would repeat items and so bias a spread downwards. `statistic` receives the indices it may use.
    public static func jackknifeInterval(count: Int, confidence: Double = 0.95, statistic: ([Int]) -> Double) -> ConfidenceInterval {
        precondition(count >= 2, "jackknife: need at least 2 items")
        let estimate = statistic(Array(0 ..< count)), n = Double(count)
        let leftOut = (0 ..< count).map { i in statistic((0 ..< count).filter { $0 != i }) }
        let mean = leftOut.reduce(0, +) / n
        let error = ((n - 1) / n * leftOut.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }).squareRoot()
        let z = normalQuantile((1 + confidence) / 2)
        return ConfidenceInterval(estimate: estimate, lower: estimate - z * error, upper: estimate + z * error, confidence: confidence)
    }

    /// The standard normal quantile at p in (0, 1), by bisection on erf.
    static func normalQuantile(_ p: Double) -> Double {
        var (low, high) = (-10.0, 10.0)
        for _ in 0 ..< 100 {
            let middle = (low + high) / 2
            if 0.5 * (1 + erf(middle / 2.0.squareRoot())) < p { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }

    static func percentiles(_ values: [Double], estimate: Double, confidence: Double) -> ConfidenceInterval {
        let sorted = values.sorted(), tail = (1 - confidence) / 2
        func quantile(_ p: Double) -> Double {
            let position = p * Double(sorted.count - 1), low = Int(position), high = Swift.min(low + 1, sorted.count - 1)
            return sorted[low] + (position - Double(low)) * (sorted[high] - sorted[low])
        }
        return ConfidenceInterval(estimate: estimate, lower: quantile(tail), upper: quantile(1 - tail), confidence: confidence)
    }
}
