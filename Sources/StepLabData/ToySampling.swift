import Foundation
import OpenCLKit
import StepLabEngine

extension Engine {
    /// Fills the `n x 2` tensor `points` with `n` points of `set`; point `i` depends only on `key` and `i`
    /// (`ToyDataset.sampleOnHost` gives the same points). A training loop gives each step its own counter.
    public func sample(_ set: ToyDataset, into points: Tensor, key: RandomKey) throws(OpenCLError) {
        guard points.columns == 2 else {
            throw .invalidRequest("sample \(set.rawValue): the tensor must be n x 2, not \(points.rows)x\(points.columns)")
        }
        let counter = key.philoxCounter, words = key.philoxKey
        try launch("datasets.cl", set.kernelName, global: [points.rows],
                   points.storage, Int32(points.offset), counter.x, counter.y, counter.z, counter.w, words.x, words.y)
    }
}

extension ToyDataset {
    /// The first `count` points of the draw `key`, row-major `[x0, y0, x1, y1, ...]`, computed on the host: the
    /// CPU twin of `Engine.sample`, equal to it up to float rounding.
    public func sampleOnHost(count: Int, key: RandomKey) -> [Float] {
        precondition(count >= 0, "sampleOnHost: negative count \(count)")
        let words = Reference.randomBits(count: 4 * count, key: key)
        var values: [Float] = []
        values.reserveCapacity(2 * count)
        for i in 0 ..< count {
            let p = ToyPoints.point(self, SIMD4(words[4 * i], words[4 * i + 1], words[4 * i + 2], words[4 * i + 3]))
            values += [p.x, p.y]
        }
        return values
    }

    /// `sampleOnHost(count:key:)` with `RandomKey(seed: seed)`.
    public func sampleOnHost(count: Int, seed: UInt64) -> [Float] {
        sampleOnHost(count: count, key: RandomKey(seed: seed))
    }

    /// The same draw as a `PointSet` of dimension 2, e.g. as the reference sample of `SampleMetrics`.
    public func points(count: Int, key: RandomKey) -> PointSet {
        PointSet(count: count, dimension: 2, values: sampleOnHost(count: count, key: key))
    }
}

/// The host twins of the kernels in `Kernels/datasets.cl`, operation by operation (the same constants, the same
/// fused multiply-adds), so only the transcendental functions can round differently.
enum ToyPoints {
    static let pi: Float = 3.14159265358979323846
    static let threeHalvesPi: Float = 4.71238898038468985769
    static let threePi: Float = 9.42477796076937971538
    static let oneThird: Float = 0.333333333333333333333
    static let sqrt2: Float = 1.41421356237309504880

    static let eightCentres: [SIMD2<Float>] = [
        SIMD2(2, 0), SIMD2(sqrt2, sqrt2), SIMD2(0, 2), SIMD2(-sqrt2, sqrt2),
        SIMD2(-2, 0), SIMD2(-sqrt2, -sqrt2), SIMD2(0, -2), SIMD2(sqrt2, -sqrt2),
    ]
    static let eightStd: Float = 0.1
    static let moonsNoise: Float = 0.05
    static let moonsScale: Float = 1.5
    static let spiralsNoise: Float = 0.1
    static let swissScale: Float = 0.2

    /// `datasets.cl`'s `unit_open22`: `(2k + 1) / 2^23` for the top 22 bits `k`.
    static func unitOpen22(_ word: UInt32) -> Float {
        Float(((word >> 10) << 1) | 1) * 0x1p-23
    }

    /// The point one Philox block `w` gives (see each kernel for which word does what).
    static func point(_ set: ToyDataset, _ w: SIMD4<UInt32>) -> SIMD2<Float> {
        let unitOpen = Reference.unitOpen
        switch set {
        case .eightGaussians:
            let z = Reference.boxMuller(w.x, w.y), centre = eightCentres[Int(w.z >> 29)]
            return SIMD2(centre.x.addingProduct(eightStd, z.x), centre.y.addingProduct(eightStd, z.y))
        case .twoMoons:
            let z = Reference.boxMuller(w.x, w.y)
            let t = pi * unitOpen(w.z)
            let c = cos(t), s = sin(t)
            let moon = w.w >> 31 != 0 ? SIMD2(1 - c, 0.5 - s) : SIMD2(c, s)
            let px = moon.x.addingProduct(moonsNoise, z.x), py = moon.y.addingProduct(moonsNoise, z.y)
            return SIMD2(moonsScale * (px - 0.5), moonsScale * (py - 0.25))
        case .checkerboard:
            let x1 = Float(-2).addingProduct(4, unitOpen22(w.x))
            let column = Int(x1.rounded(.down))
            let row = (column & 1) - 2 * Int(w.z >> 31)
            return SIMD2(x1, Float(row) + unitOpen22(w.y))
        case .swissRoll:
            let z = Reference.boxMuller(w.x, w.y)
            let t = threeHalvesPi * Float(1).addingProduct(2, unitOpen(w.z))
            return SIMD2(swissScale * z.x.addingProduct(t, cos(t)), swissScale * z.y.addingProduct(t, sin(t)))
        case .spirals:
            let z = Reference.boxMuller(w.x, w.y)
            let s = threePi * unitOpen(w.z).squareRoot()
            let r = w.w >> 31 != 0 ? -(s * oneThird) : s * oneThird
            return SIMD2((-r * cos(s)).addingProduct(spiralsNoise, z.x), (r * sin(s)).addingProduct(spiralsNoise, z.y))
        }
    }
}
