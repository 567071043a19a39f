import OpenCLKit

/// The flat gradient vector cut into buckets of whole parameters, in layout order: the units a data-parallel step
/// reduces while the backward goes on. Every replica and rank of a job cuts the same layout the same way.
public struct GradientBuckets: Sendable, Equatable {
    /// Each bucket's range of the flat vector; together they cover it, in order.
    public let ranges: [Range<Int>]
    /// The bucket of each parameter, by its offset.
    let bucketOfOffset: [Int: Int]

    /// Consecutive `entries` gathered until a bucket would pass `floats` values (a larger parameter is a bucket
    /// of its own).
    public init(entries: [ParameterStore.Entry], floats: Int) throws(OpenCLError) {
        guard floats > 0 else { throw .invalidRequest("gradient buckets need a positive size (got \(floats) floats)") }
        var ranges: [Range<Int>] = [], bucketOfOffset: [Int: Int] = [:]
        var start = 0, end = 0
        for entry in entries {
            if end > start && end - start + entry.count > floats {
                ranges.append(start ..< end)
                start = end
            }
            bucketOfOffset[entry.offset] = ranges.count
            end = entry.offset + entry.count
        }
        if end > start { ranges.append(start ..< end) }
        self.ranges = ranges
        self.bucketOfOffset = bucketOfOffset
    }

    /// Values in the largest bucket.
    public var largest: Int { ranges.map(\.count).max() ?? 0 }
}
