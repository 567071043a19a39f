import Foundation
import StepLabEngine

/// Sliced Wasserstein-2 distance (Rabin et al. 2011; Bonneel et al. 2015): the root mean, over random unit
/// directions, of the squared 1-D Wasserstein-2 distance between the projections of the two sets.
///
/// In 1-D, W2^2 is the mean squared difference of the two quantile functions. With equal counts that is the
/// mean squared difference of the sorted values (sort and match). With unequal counts both quantile functions
/// are read on the common grid `p_k = (k + 1/2) / G`, `G = max(m, n)`, interpolating linearly between order
/// statistics (the one of `s` sorted values at position `p n - 1/2`, clamped to the ends); when a set has `G`
/// points this reads its sorted values exactly, so the two cases agree.
enum SlicedWasserstein {
    /// `a` and `b` are row-major Double points of `dimension`; directions are N(0, I) vectors normalised, drawn
    /// from `seed`.
    static func distance(_ a: [Double], _ b: [Double], dimension d: Int, projections: Int, seed: UInt64) -> Double {
        let m = a.count / d, n = b.count / d, grid = max(m, n)
        let directions = Self.directions(dimension: d, projections: projections, seed: seed)
        let squared = parallelMap(projections) { l in
            let direction = directions[l * d ..< (l + 1) * d]
            let pa = RadixSort.sorted(project(a, direction)), pb = RadixSort.sorted(project(b, direction))
            var sum = 0.0
            for k in 0 ..< grid {
                let difference = quantile(pa, k, grid) - quantile(pb, k, grid)
                sum += difference * difference
            }
            return sum / Double(grid)
        }
        return (squared.reduce(0, +) / Double(projections)).squareRoot()
    }

    /// `projections` unit directions in `dimension`, row-major: N(0, I) vectors normalised, drawn from `seed`.
    static func directions(dimension d: Int, projections: Int, seed: UInt64) -> [Double] {
        var random = HostRandom(seed: seed)
        return (0 ..< projections).flatMap { _ in
            let v = (0 ..< d).map { _ in random.gaussian() }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / norm }
        }
    }

    static func project(_ points: [Double], _ direction: ArraySlice<Double>) -> [Double] {
        let d = direction.count, base = direction.startIndex
        return (0 ..< points.count / d).map { i in
            var dot = 0.0
            for t in 0 ..< d { dot += points[i * d + t] * direction[base + t] }
            return dot
        }
    }

    /// The quantile at `(k + 1/2) / grid` of the sorted values `s`.
    static func quantile(_ s: [Double], _ k: Int, _ grid: Int) -> Double {
        if s.count == grid { return s[k] }
        let position = min(max((Double(k) + 0.5) * Double(s.count) / Double(grid) - 0.5, 0), Double(s.count - 1))
        let low = Int(position), high = min(low + 1, s.count - 1)
        return s[low] + (position - Double(low)) * (s[high] - s[low])
    }
}
