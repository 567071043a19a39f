import StepLabEngine

/// Data-parallel gradients across the ranks of an `mpirun` job, each holding `localReplicas` replicas: every rank
/// sums its own replicas in order, rank 0 gathers those partial sums and adds them in rank order, scales by
/// 1 / (all replicas), and broadcasts the result. Gather-and-broadcast rather than MPI_Allreduce, whose summation
/// order depends on Open MPI's algorithm choice (message size, process count, tuning files): this order is fixed by
/// construction, so a run repeats to the byte, and at our parameter counts (10^5 to 10^7 floats) its extra latency
/// is small next to a training step. With one device per rank it sums in exactly the order of one process with as
/// many devices (`LocalGradientReduction`), so the two give the same bytes.
public struct MPIGradientReduction: GradientReduction {
    public let communicator: MPICommunicator
    public let localReplicas: Int

    public init(communicator: MPICommunicator, localReplicas: Int) {
        self.communicator = communicator
        self.localReplicas = localReplicas
    }

    public var replicaCount: Int { communicator.size * localReplicas }

    public func averageInPlace(_ gradients: [Tensor]) throws {
        var sum = try LocalGradientReduction.orderedSum(gradients)
        if let parts = try communicator.gather(sum) {
            sum = try LocalGradientReduction.orderedSum(parts)
            LocalGradientReduction.scale(&sum, by: replicaCount)
        }
        try communicator.broadcast(&sum)
        for gradient in gradients { try gradient.upload(sum) }
    }

    /// The same sums bucket by bucket as the watches read them, each bucket's gather, sum and broadcast running
    /// while the device differentiates the layers before it. Every rank takes the buckets in the same order.
    public func averageInPlace(_ watches: [GradientWatch]) throws {
        guard let order = GradientBucketSum.order(of: watches) else { return try averageInPlace(watches.map(\.gradients)) }
        let root = communicator.rank == 0
        let largest = watches[0].buckets.largest
        var parts = [Float](repeating: 0, count: root ? communicator.size * largest : 0)
        try parts.withUnsafeMutableBufferPointer { parts in
            for bucket in order {
                let sum = try GradientBucketSum.localSum(watches, bucket: bucket)
                try communicator.gather(UnsafeBufferPointer(sum), into: parts)
                if root {
                    // Rank 0's own part is already in `sum`; the others follow in rank order.
                    for other in 1 ..< communicator.size {
                        GradientBucketSum.add(UnsafeBufferPointer(rebasing: parts[(other * sum.count) ..< ((other + 1) * sum.count)]), into: sum)
                    }
                    GradientBucketSum.scale(sum, by: replicaCount)
                }
                try communicator.broadcast(sum)
            }
        }
        try GradientBucketSum.uploadMean(watches)
    }
}
