/// The host side of a bucketed reduction, shared by the local and the MPI one: the replicas' buckets summed in
/// replica order into the first replica's staging memory, and the mean written back to every replica.
public enum GradientBucketSum {
    /// The buckets' shared order, or nil when a watch's plan failed or the replicas disagree (then the caller
    /// reduces the whole vectors after the step).
    public static func order(of watches: [GradientWatch]) -> [Int]? {
        guard let first = watches.first, watches.allSatisfy({ $0.valid && $0.order == first.order && $0.buckets == first.buckets }) else {
            return nil
        }
        return first.order
    }

    /// Waits for `bucket` on every replica and sums it in replica order, ((v_0 + v_1) + v_2) + ..., into the first
    /// replica's staging memory, which it returns.
    public static func localSum(_ watches: [GradientWatch], bucket: Int) throws -> UnsafeMutableBufferPointer<Float> {
        for watch in watches { try watch.wait(for: bucket) }
        let range = watches[0].buckets.ranges[bucket]
        let sum = UnsafeMutableBufferPointer(rebasing: watches[0].staging[range])
        for watch in watches.dropFirst() { add(UnsafeBufferPointer(rebasing: watch.staging[range]), into: sum) }
        return sum
    }

    /// sum[i] += part[i]: the one step of every ordered sum, bucketed or whole (`LocalGradientReduction.orderedSum`).
    public static func add(_ part: UnsafeBufferPointer<Float>, into sum: UnsafeMutableBufferPointer<Float>) {
        for i in 0 ..< sum.count { sum[i] += part[i] }
    }

    /// Divides by the replica count as a multiplication by its float reciprocal, for bucketed and whole reductions.
    public static func scale(_ values: UnsafeMutableBufferPointer<Float>, by count: Int) {
        let inverse = 1 / Float(count)
        for i in 0 ..< values.count { values[i] *= inverse }
    }

    /// Writes the first replica's staging memory, now the mean, into every replica's gradients.
    public static func uploadMean(_ watches: [GradientWatch]) throws {
        let mean = UnsafeBufferPointer(watches[0].staging)
        for watch in watches { try watch.gradients.storage.upload(mean, offset: watch.gradients.offset) }
    }
}
