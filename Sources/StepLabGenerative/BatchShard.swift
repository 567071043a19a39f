import OpenCLKit
import StepLabEngine

/// Rows `firstRow ..< firstRow + rows` of a step's global batch: what one data-parallel replica holds. Every random
/// draw of a shard is the global batch's draw of those rows (a counter-based key started part-way in,
/// `RandomKey.starting(atBlock:)`), so R replicas together compute the single-device step, up to the order in which
/// floats are summed.
public struct BatchShard: Sendable, Equatable, Codable {
    public var firstRow: Int
    public var rows: Int

    /// The whole batch of `rows` rows.
    public init(firstRow: Int = 0, rows: Int) {
        self.firstRow = firstRow
        self.rows = rows
    }

    /// Shard `index` of `count` equal shards of a `batch`-row batch. A shard starts on a Philox block of every draw
    /// only when its first row is a multiple of 4, so `batch` must be a multiple of 4 `count`.
    public static func split(batch: Int, count: Int, index: Int) throws(OpenCLError) -> BatchShard {
        guard count >= 1, index >= 0, index < count else { throw .invalidRequest("shard \(index) of \(count) does not exist") }
        guard count == 1 || batch % (4 * count) == 0 else {
            throw .invalidRequest("a batch of \(batch) cannot be split over \(count) devices: it must be a multiple of \(4 * count)")
        }
        let rows = batch / count
        return BatchShard(firstRow: index * rows, rows: rows)
    }

    /// The key of a per-row draw (row i takes Philox block i), for this shard's rows.
    public func rowKey(_ key: RandomKey) -> RandomKey { key.starting(atBlock: firstRow) }

    /// The key of an element draw into a `rows x columns` tensor (element i is lane i % 4 of block i / 4), for
    /// this shard's rows.
    public func elementKey(_ key: RandomKey, columns: Int) -> RandomKey {
        precondition((firstRow * columns) % 4 == 0, "a shard must start on a Philox block (first row \(firstRow), \(columns) columns)")
        return key.starting(atBlock: firstRow * columns / 4)
    }
}
