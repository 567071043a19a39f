import ArgumentParser
import Foundation
import StepLabData
import StepLabEngine
import StepLabGenerative
import StepLabMPI

/// Where this process stands in a training job: alone, or one rank of an `mpirun -np N steplab train ...` job. Each
/// rank drives its own devices; rank 0 alone writes the run folder, and every rank reads it to resume.
struct TrainingJob {
    let communicator: MPICommunicator?

    var rank: Int { communicator?.rank ?? 0 }
    var ranks: Int { communicator?.size ?? 1 }
    /// Rank 0 writes the run folder (config, checkpoints, metrics, weights) and prints the progress.
    var writes: Bool { rank == 0 }

    /// The job this process belongs to: MPI's when mpirun started it, else a job of one.
    static func current() throws -> TrainingJob {
        guard MPICommunicator.launchedByMPIRun else { return TrainingJob(communicator: nil) }
        do { return TrainingJob(communicator: try MPICommunicator()) } catch { throw CLIError("\(error)") }
    }

    /// Every rank's configuration must be rank 0's (a hash of its JSON is compared at start-up), or the replicas would
    /// silently train different models.
    func checkSameConfiguration(_ config: RunConfig) throws {
        if let other = try firstRankDiffering(FNV1a.hash(try RunFolder.sortedEncoder.encode(config))) {
            try stopEveryRank(String(format: "rank %d was started with a different configuration from rank 0 (config hash %016llx, rank 0 %016llx); "
                                     + "give every rank the same arguments", other.rank, other.value, other.rankZero))
        }
    }

    /// Every rank must drive as many devices as rank 0: the batch is cut into ranks x devices equal shards, rank r
    /// holding shards r x devices ..< (r + 1) x devices.
    func checkSameDeviceCount(_ devices: Int) throws {
        if let other = try firstRankDiffering(UInt64(devices)) {
            try stopEveryRank("rank \(other.rank) drives \(other.value) device(s) and rank 0 drives \(other.rankZero); give every rank the same number of devices")
        }
    }

    /// Every rank sees a disagreement at once. Rank 0 writes the one line; only after every rank has met again do
    /// all exit with status 1 and no further line, so neither another rank's line nor mpirun's notice of the exits
    /// can cut into it.
    private func stopEveryRank(_ message: String) throws -> Never {
        guard let communicator else { throw CLIError(message) }
        if rank == 0 { FileHandle.standardError.write(Data(("Error: " + message + "\n").utf8)) }
        _ = try collective { try communicator.allGather(0) }
        throw ExitCode.failure
    }

    /// The first rank whose `value` differs from rank 0's, with both values (nil when all agree, or alone).
    private func firstRankDiffering(_ value: UInt64) throws -> (rank: Int, value: UInt64, rankZero: UInt64)? {
        guard let communicator else { return nil }
        let values = try collective { try communicator.allGather(value) }
        return values.firstIndex { $0 != values[0] }.map { ($0, values[$0], values[0]) }
    }

    /// The mean over the job of a value each rank averaged over its own equal shards (a loss): summed in rank order on
    /// rank 0 and broadcast, so every rank gets the same float, the one a single process with as many replicas gets.
    func average(_ value: Float) throws -> Float {
        guard let communicator else { return value }
        var result = [value]
        if let parts = try collective({ try communicator.gather(result) }) {
            result = [try LocalGradientReduction.orderedSum(parts)[0] / Float(ranks)]
        }
        try collective { try communicator.broadcast(&result) }
        return result[0]
    }

    /// Every rank's `value`, in rank order (this process's alone when it is not an MPI job).
    func everyRank(_ value: Double) throws -> [Double] {
        guard let communicator else { return [value] }
        return try collective { try communicator.allGather(value.bitPattern) }.map(Double.init(bitPattern:))
    }

    /// Whether every rank stops before the next step: rank 0's decision (its interrupt or --stop-after), so all ranks
    /// stop at the same step.
    func agree(stop: Bool) throws -> Bool {
        guard let communicator else { return stop }
        return try collective { try communicator.broadcast(stop ? 1 : 0) } != 0
    }

    /// The gradient reduction over the whole job for `localReplicas` replicas in this process.
    func reduction(localReplicas: Int) -> any GradientReduction {
        communicator.map { MPIGradientReduction(communicator: $0, localReplicas: localReplicas) } ?? LocalGradientReduction(replicaCount: localReplicas)
    }

    /// Ends MPI after the last collective.
    func finish() { communicator?.finalize() }

    private func collective<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as MPIError { throw CLIError(error.description) }
    }
}
