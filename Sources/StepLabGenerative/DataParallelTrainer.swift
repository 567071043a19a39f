import Dispatch
import OpenCLKit
import StepLabEngine

/// Data-parallel training: one replica of the model per device, each computing its shard of the global batch
/// (`BatchShard`: the rows and random draws a single device would have there), the gradients averaged in a fixed
/// order (`GradientReduction`), then the same optimizer and EMA update on every replica, so the replicas stay
/// identical. With one replica it is a plain `Trainer`.
public final class DataParallelTrainer {
    /// This process's replicas, in shard order.
    public let replicas: [Trainer]
    public let reduction: any GradientReduction
    /// Each replica's gradients followed through the backward, so the reduction overlaps it (empty: after the step).
    public let watches: [GradientWatch]
    /// Values a gradient bucket gathers by default: 128 Ki floats (512 KB), about eight buckets for the 32-channel
    /// U-Net (0.92 M), so the first ones are reduced while most of the backward is still to run.
    public static let defaultBucketFloats = 1 << 17

    /// `replicas` must hold consecutive equal shards (replica r's first row = r x its rows, offset by `firstShard`
    /// shards for a process that holds a later part of the job), and equal parameter counts. `bucketFloats` sizes the
    /// buckets reduced during the backward; nil reduces the whole gradients after it (the same bytes either way).
    public init(replicas: [Trainer], reduction: (any GradientReduction)? = nil, firstShard: Int = 0,
                bucketFloats: Int? = DataParallelTrainer.defaultBucketFloats) throws(OpenCLError) {
        guard let first = replicas.first else { throw .invalidRequest("data-parallel training needs at least one replica") }
        let rows = first.objective.shard.rows
        for (index, replica) in replicas.enumerated() {
            guard replica.objective.shard == BatchShard(firstRow: (firstShard + index) * rows, rows: rows) else {
                throw .invalidRequest("replica \(index) holds rows \(replica.objective.shard.firstRow) ..< "
                                      + "\(replica.objective.shard.firstRow + replica.objective.shard.rows), not shard \(firstShard + index) of \(rows) rows")
            }
            guard replica.model.parameters.count == first.model.parameters.count else {
                throw .invalidRequest("replica \(index) has \(replica.model.parameters.count) parameters, replica 0 has \(first.model.parameters.count)")
            }
        }
        self.replicas = replicas
        let reduction = reduction ?? LocalGradientReduction(replicaCount: replicas.count)
        self.reduction = reduction
        watches = try bucketFloats.map { floats throws(OpenCLError) in
            guard reduction.replicaCount > 1 else { return [] }
            return try replicas.map { replica throws(OpenCLError) in try GradientWatch(store: replica.model.parameters, engine: replica.engine, bucketFloats: floats) }
        } ?? []
    }

    /// Wall seconds spent averaging gradients after every replica's gradients were done (what the backward did not
    /// hide), and in whole steps.
    public private(set) var reductionSeconds = 0.0, stepSeconds = 0.0

    public var step: Int { replicas[0].step }
    /// The first replica: its model and EMA stand for all of them (they hold the same values).
    public var primary: Trainer { replicas[0] }

    /// One step: every replica's gradients, their average, every replica's update.
    public func trainStep() throws {
        let start = DispatchTime.now().uptimeNanoseconds
        if !watches.isEmpty { return try overlappedStep(start: start) }
        for replica in replicas { try replica.computeGradients() }
        if reduction.replicaCount > 1 {
            // Wait for the gradients first, so the timer counts the reduction alone.
            for replica in replicas { try replica.engine.synchronize() }
            let reduceStart = DispatchTime.now().uptimeNanoseconds
            try reduction.averageInPlace(replicas.map(\.model.parameters.gradients))
            reductionSeconds += Double(DispatchTime.now().uptimeNanoseconds - reduceStart) / 1e9
        }
        for replica in replicas { try replica.applyUpdate() }
        if reduction.replicaCount > 1 { try primary.engine.synchronize() }
        stepSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// A step whose reduction starts during the backward: each replica's gradients enqueued with their bucket reads,
    /// then the buckets reduced as they arrive; the timer counts from the moment the last device finished.
    private func overlappedStep(start: UInt64) throws {
        for (replica, watch) in zip(replicas, watches) {
            watch.beginStep()
            try replica.computeGradients()
            try watch.finishStep()
        }
        try reduction.averageInPlace(watches)
        let end = DispatchTime.now().uptimeNanoseconds
        let gradientsDone = try watches.map { try $0.finishedAt() }.max()!
        reductionSeconds += Double(end - Swift.min(end, gradientsDone)) / 1e9
        for replica in replicas { try replica.applyUpdate() }
        try primary.engine.synchronize()
        stepSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// The mean loss of the latest step over this process's replicas (equal shards, so the mean of their means).
    public func meanLoss() throws(OpenCLError) -> Float {
        var sum: Float = 0
        for replica in replicas { sum += try replica.meanLoss() }
        return sum / Float(replicas.count)
    }

    /// The global gradient norm of the latest step (the reduced gradient, the same on every replica).
    public func gradientNorm() throws(OpenCLError) -> Float { try primary.gradientNorm() }

    public func state() throws(OpenCLError) -> Trainer.State { try primary.state() }

    /// Restores every replica from one state.
    public func restore(_ state: Trainer.State) throws(OpenCLError) {
        for replica in replicas { try replica.restore(state) }
    }
}
