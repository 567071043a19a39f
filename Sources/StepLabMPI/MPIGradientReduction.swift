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
}
