import Foundation

/// Host twins of `Kernels/random.cl`. The words and the uniforms are bit-identical to the device's; normals
/// and lognormals go through `log`, `sqrt`, `sin`, `cos` and `exp`, which OpenCL only bounds to a few ulp,
/// so they agree to within those bounds.
extension Reference {
    /// One Philox-4x32-10 block (Salmon et al. 2011, Random123's `philox4x32_R(10, ...)`).
    public static func philox4x32_10(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        let m0: UInt64 = 0xD251_1F53, m1: UInt64 = 0xCD9E_8D57
        let w0: UInt32 = 0x9E37_79B9, w1: UInt32 = 0xBB67_AE85
        var c = counter, k = key
        for round in 0..<10 {
            if round > 0 {
                k.x &+= w0
                k.y &+= w1
            }
            let p0 = m0 * UInt64(c.x), p1 = m1 * UInt64(c.z)
            c = SIMD4(UInt32(truncatingIfNeeded: p1 >> 32) ^ c.y ^ k.x, UInt32(truncatingIfNeeded: p1),
                      UInt32(truncatingIfNeeded: p0 >> 32) ^ c.w ^ k.y, UInt32(truncatingIfNeeded: p0))
        }
        return c
    }

    /// `count` Philox words: word `i` is lane `i % 4` of the block at counter `(c.x + i / 4, c.y, c.z, c.w)`,
    /// the first word wrapping mod 2^32.
    public static func randomBits(count: Int, counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> [UInt32] {
        var words: [UInt32] = []
        words.reserveCapacity(count + 3)
        for block in 0..<(count + 3) / 4 {
            var c = counter
            c.x &+= UInt32(truncatingIfNeeded: block)
            let w = philox4x32_10(counter: c, key: key)
            words += [w.x, w.y, w.z, w.w]
        }
        return Array(words.prefix(count))
    }

    /// The words of a draw with `key` (see `RandomKey` for the layout).
    public static func randomBits(count: Int, key: RandomKey) -> [UInt32] {
        randomBits(count: count, counter: key.philoxCounter, key: key.philoxKey)
    }

    /// A word as a float in the open interval (0, 1): `(2k + 1) / 2^24` for its top 23 bits `k`. Every such
    /// value is exact in `Float`, the extremes are 2^-24 and 1 - 2^-24, and the mean is exactly 1/2.
    public static func unitOpen(_ word: UInt32) -> Float {
        Float(((word >> 9) << 1) | 1) * 0x1p-24
    }

    /// `lo + (hi - lo) * u` with `u` uniform in (0, 1), fused like the kernel's `fma`.
    public static func uniform(count: Int, key: RandomKey, lo: Float = 0, hi: Float = 1) -> [Float] {
        randomBits(count: count, key: key).map { lo.addingProduct(hi - lo, unitOpen($0)) }
    }

    /// `mean + std * z` with `z ~ N(0, 1)` by Box-Muller (Box & Muller 1958) on consecutive word pairs:
    /// words `(2j, 2j + 1)` give elements `2j` (cosine) and `2j + 1` (sine).
    public static func normal(count: Int, key: RandomKey, mean: Float = 0, std: Float = 1) -> [Float] {
        standardNormals(count: count, key: key).map { mean.addingProduct(std, $0) }
    }

    /// `exp(mean + std * z)` with `z ~ N(0, 1)`, the same `z` as `normal`.
    public static func lognormal(count: Int, key: RandomKey, mean: Float, std: Float) -> [Float] {
        standardNormals(count: count, key: key).map { Foundation.exp(mean.addingProduct(std, $0)) }
    }

    /// 2 pi rounded to nearest like the kernel's literal; `2 * Float.pi` is one ulp lower, because
    /// `Float.pi` is rounded toward zero.
    static let twoPi: Float = 6.28318530717958647692

    /// Two independent N(0, 1) from two Philox words by Box-Muller, like the kernels' `box_muller`: `r cos(theta)`
    /// and `r sin(theta)` with `r = sqrt(-2 log u0)` and `theta = 2 pi u1`, `u = unitOpen(word)`.
    public static func boxMuller(_ word0: UInt32, _ word1: UInt32) -> SIMD2<Float> {
        let r = (-2 * Foundation.log(unitOpen(word0))).squareRoot()
        let theta = twoPi * unitOpen(word1)
        return SIMD2(r * Foundation.cos(theta), r * Foundation.sin(theta))
    }

    static func standardNormals(count: Int, key: RandomKey) -> [Float] {
        let words = randomBits(count: count + 1, key: key)
        var values: [Float] = []
        values.reserveCapacity(count + 1)
        for pair in stride(from: 0, to: count, by: 2) {
            let z = boxMuller(words[pair], words[pair + 1])
            values += [z.x, z.y]
        }
        return Array(values.prefix(count))
    }
}
