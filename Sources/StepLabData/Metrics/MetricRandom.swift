import Foundation
import StepLabEngine

/// The metrics' host randomness: seeded, so a metric is a pure function of its inputs and `SampleMetrics.seed`.
extension HostRandom {
    /// Uniform in `0 ..< bound` (Lemire's multiply-high; the bias is below bound / 2^64).
    mutating func index(below bound: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// N(0, 1) by Box-Muller from two 53-bit uniforms in (0, 1).
    mutating func gaussian() -> Double {
        let u0 = (Double(next() >> 11) + 0.5) * 0x1p-53, u1 = (Double(next() >> 11) + 0.5) * 0x1p-53
        return (-2 * log(u0)).squareRoot() * cos(2 * Double.pi * u1)
    }
}

/// `replicates` bootstrap resamples of `count` indices drawn with replacement, each as how often every index was
/// drawn: a resample changes only how much each point counts, so the metrics weight points instead of copying them.
func resampleCounts(count: Int, replicates: Int, random: inout HostRandom) -> [[Int32]] {
    (0 ..< replicates).map { _ in
        var counts = [Int32](repeating: 0, count: count)
        for _ in 0 ..< count { counts[random.index(below: count)] += 1 }
        return counts
    }
}

/// Up to `cap` points of `points`, as Double row-major, in a random order that depends only on the count, `cap`
/// and `seed` (a partial Fisher-Yates shuffle of the indices). Two sets of the same size are therefore shuffled
/// alike, which keeps the metrics symmetric and exactly zero on identical sets; and any prefix of the result is
/// itself a random subset, whatever the order of the input (a sorted file, say).
func shuffledPrefix(_ points: PointSet, cap: Int, seed: UInt64) -> [Double] {
    let n = points.count, d = points.dimension, m = min(n, cap)
    var random = HostRandom(seed: seed)
    var order = Array(0 ..< n)
    var result: [Double] = []
    result.reserveCapacity(m * d)
    for i in 0 ..< m {
        order.swapAt(i, i + random.index(below: n - i))
        result += points[point: order[i]].map(Double.init)
    }
    return result
}
