/// Names one reproducible draw of random numbers from the counter-based Philox-4x32-10 generator
/// (Salmon et al. 2011). There is no generator state: element `i` of a draw is a pure function of
/// `(seed, stream, counter, i)`, whatever the size or shape of the tensor it is drawn into.
///
/// Element `i` is lane `i % 4` of the Philox block with
/// - key `(seed & 0xffffffff, seed >> 32)`,
/// - counter `(block + i / 4, counter & 0xffffffff, counter >> 32, stream)`.
///
/// `block` (0 unless set) starts a draw part-way into the key's sequence: a data-parallel replica that holds rows
/// r0 ..< r1 of a batch draws exactly the numbers of those rows of the whole batch (`Shard`).
///
/// So a draw of up to 2^34 elements never overlaps another draw whose `counter` or `stream` differs. A
/// trainer keeps one seed, gives each purpose its own `stream` (noise, times, dropout, ...) and sets
/// `counter` to the step number, which makes any step's random numbers recomputable from the step alone.
public struct RandomKey: Sendable, Hashable {
    /// The Philox key.
    public var seed: UInt64
    /// Separates independent uses of one seed.
    public var stream: UInt32
    /// Separates successive draws of one stream, e.g. the training step.
    public var counter: UInt64

    /// A key; `stream` and `counter` default to 0.
    public init(seed: UInt64, stream: UInt32 = 0, counter: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
        self.counter = counter
    }

    /// The first Philox block of the draw.
    public var block: UInt32 = 0

    /// The same seed and stream at another counter.
    public func at(counter: UInt64) -> RandomKey {
        var key = self
        key.counter = counter
        return key
    }

    /// The same draw from Philox block `block` on: its element i is element 4 block + i of this key's draw.
    public func starting(atBlock block: Int) -> RandomKey {
        var key = self
        key.block = UInt32(truncatingIfNeeded: block)
        return key
    }

    /// The two Philox key words.
    public var philoxKey: SIMD2<UInt32> {
        SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
    }

    /// The Philox counter of the draw's first block; the draw's block `b` adds `b` to its first word.
    public var philoxCounter: SIMD4<UInt32> {
        SIMD4(block, UInt32(truncatingIfNeeded: counter), UInt32(truncatingIfNeeded: counter >> 32), stream)
    }
}
