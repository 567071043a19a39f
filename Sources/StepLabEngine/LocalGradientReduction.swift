import OpenCLKit

/// The replicas of one process: their gradients read to the host in replica order, summed there in that order in
/// float, scaled by 1 / R and written back to every replica.
public struct LocalGradientReduction: GradientReduction {
    public let replicaCount: Int

    public init(replicaCount: Int) {
        self.replicaCount = replicaCount
    }

    public func averageInPlace(_ gradients: [Tensor]) throws {
        guard gradients.count == replicaCount else {
            throw OpenCLError.invalidRequest("gradient reduction over \(replicaCount) replicas got \(gradients.count) gradient vectors")
        }
        guard replicaCount > 1 else { return }
        var mean = try Self.orderedSum(gradients)
        Self.scale(&mean, by: replicaCount)
        for gradient in gradients { try gradient.upload(mean) }
    }

    /// Bucket by bucket as the watches read them: summed in replica order, scaled, written back.
    public func averageInPlace(_ watches: [GradientWatch]) throws {
        guard let order = GradientBucketSum.order(of: watches), watches.count == replicaCount else {
            return try averageInPlace(watches.map(\.gradients))
        }
        guard replicaCount > 1 else { return }
        for bucket in order {
            GradientBucketSum.scale(try GradientBucketSum.localSum(watches, bucket: bucket), by: replicaCount)
        }
        try GradientBucketSum.uploadMean(watches)
    }

    /// The replicas' gradients read back and summed in replica order (`orderedSum` of the values).
    public static func orderedSum(_ gradients: [Tensor]) throws -> [Float] {
        try orderedSum(gradients.map { try $0.download() })
    }

    /// ((v_0 + v_1) + v_2) + ...: the one order every run uses, for a process's replicas and for the ranks' partial sums.
    public static func orderedSum(_ parts: [[Float]]) throws -> [Float] {
        var sum = parts[0]
        for part in parts.dropFirst() {
            guard part.count == sum.count else {
                throw OpenCLError.invalidRequest("replicas' gradients differ in length (\(sum.count) and \(part.count))")
            }
            sum.withUnsafeMutableBufferPointer { sum in part.withUnsafeBufferPointer { GradientBucketSum.add($0, into: sum) } }
        }
        return sum
    }

    /// Divides by the replica count as a multiplication by its float reciprocal, the same on every process
    /// (`GradientBucketSum.scale`, which the bucketed reductions use too).
    public static func scale(_ values: inout [Float], by count: Int) {
        values.withUnsafeMutableBufferPointer { GradientBucketSum.scale($0, by: count) }
    }
}
