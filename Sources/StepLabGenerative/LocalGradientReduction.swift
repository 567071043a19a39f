import OpenCLKit
import StepLabEngine

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

    /// ((g_0 + g_1) + g_2) + ...: the one order every run uses.
    public static func orderedSum(_ gradients: [Tensor]) throws -> [Float] {
        var sum = try gradients[0].download()
        for gradient in gradients.dropFirst() {
            let values = try gradient.download()
            guard values.count == sum.count else {
                throw OpenCLError.invalidRequest("replicas' gradients differ in length (\(sum.count) and \(values.count))")
            }
            for i in 0 ..< sum.count { sum[i] += values[i] }
        }
        return sum
    }

    /// Divides by the replica count as a multiplication by its float reciprocal, the same on every process.
    public static func scale(_ values: inout [Float], by count: Int) {
        let inverse = 1 / Float(count)
        for i in 0 ..< values.count { values[i] *= inverse }
    }
}
