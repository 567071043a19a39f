import OpenCLKit

/// Averages data-parallel gradients: every replica's gradient vector is replaced by the mean over all replicas of the
/// job. Implementations sum in a fixed order (tinygrad's rank-ordered reduce, no float atomics), so a run gives the
/// same bytes every time for a given replica count.
public protocol GradientReduction {
    /// Replicas in the whole job (this process's and, across processes, everyone's).
    var replicaCount: Int { get }
    /// Replaces each of `gradients` (this process's replicas, in order, equal lengths) with the job's mean.
    func averageInPlace(_ gradients: [Tensor]) throws
    /// The same mean from buckets that `watches` (this process's replicas, in order, after `finishStep`) read
    /// during the backward, bucket by bucket in their shared order; the same bytes as `averageInPlace(_:)`, since
    /// each value is summed in the same order whichever bucket carries it.
    func averageInPlace(_ watches: [GradientWatch]) throws
}

extension GradientReduction {
    /// Without a bucketed form: the whole vectors, after the step.
    public func averageInPlace(_ watches: [GradientWatch]) throws {
        try averageInPlace(watches.map(\.gradients))
    }
}
