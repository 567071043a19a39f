import OpenCLKit

/// Counter-based random numbers (`Kernels/random.cl`), Philox-4x32-10 (Salmon et al. 2011). Element `i` of
/// a tensor (row-major index in the view) depends only on the key and `i`, never on the shape, the device
/// or what was drawn before; `Reference` recomputes any draw on the host. See `RandomKey` for the layout.
extension Engine {
    /// Fills `y` with `lo + (hi - lo) * u`, `u` uniform in the open interval (0, 1) on a grid of 2^-23
    /// (`Reference.unitOpen`). With the default bounds no element is 0 or 1, so `log(y)` is always finite.
    public func uniform(into y: Tensor, key: RandomKey, lo: Float = 0, hi: Float = 1) throws(OpenCLError) {
        try draw("uniform_f32", y, key, lo, hi)
    }

    /// Fills `y` with `mean + std * z`, `z ~ N(0, 1)` by Box-Muller on pairs of uniforms from (0, 1).
    /// `|z|` is at most about 5.77 (from the smallest uniform, 2^-24).
    public func normal(into y: Tensor, key: RandomKey, mean: Float = 0, std: Float = 1) throws(OpenCLError) {
        try draw("normal_f32", y, key, mean, std)
    }

    /// Fills `y` with `exp(mean + std * z)`, `z ~ N(0, 1)`: the same `z` as `normal` with the same key.
    public func lognormal(into y: Tensor, key: RandomKey, mean: Float, std: Float) throws(OpenCLError) {
        try draw("lognormal_f32", y, key, mean, std)
    }

    /// Writes the raw Philox words of a draw with `key` into `buffer[offset ..< offset + count]`.
    public func randomBits(into buffer: Buffer<UInt32>, offset: Int = 0, count: Int, key: RandomKey) throws(OpenCLError) {
        try randomBits(into: buffer, offset: offset, count: count, counter: key.philoxCounter, key: key.philoxKey)
    }

    /// Writes `count` raw Philox words: word `i` is lane `i % 4` of the block at counter
    /// `(counter.x + i / 4, counter.y, counter.z, counter.w)` (first word mod 2^32) under `key`.
    public func randomBits(into buffer: Buffer<UInt32>, offset: Int = 0, count: Int,
                           counter: SIMD4<UInt32>, key: SIMD2<UInt32>) throws(OpenCLError) {
        guard count > 0, offset >= 0, offset + count <= buffer.count else {
            throw .invalidRequest("randomBits: \(count) words at offset \(offset) do not fit a buffer of \(buffer.count)")
        }
        try launch("random.cl", "philox_u32", global: [(count + 3) / 4], buffer, Int32(offset), Int32(count),
                   counter.x, counter.y, counter.z, counter.w, key.x, key.y)
    }

    private func draw(_ function: String, _ y: Tensor, _ key: RandomKey, _ a: Float, _ b: Float) throws(OpenCLError) {
        let counter = key.philoxCounter, words = key.philoxKey
        try launch("random.cl", function, global: [(y.count + 3) / 4], y.storage, y.kernelOffset, Int32(y.count),
                   counter.x, counter.y, counter.z, counter.w, words.x, words.y, a, b)
    }
}
