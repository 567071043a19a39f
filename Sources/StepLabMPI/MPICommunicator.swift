import CMPI
import Foundation

/// The processes of an `mpirun` job (MPI_COMM_WORLD of Open MPI), with the few collectives data-parallel training
/// needs. Errors come back as values (MPI_ERRORS_RETURN), and every collective runs under a watchdog: a rank whose
/// peers stop answering (one died) exits non-zero with one line after `timeout` seconds instead of hanging.
public final class MPICommunicator: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Seconds a collective may wait for the other ranks before this rank gives up.
    public let timeout: Double
    private let watchdog: CollectiveWatchdog

    /// Whether `mpirun` started this process (Open MPI sets OMPI_COMM_WORLD_SIZE in every rank's environment).
    public static var launchedByMPIRun: Bool { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil }

    /// Initialises MPI (once per process).
    public init(timeout: Double = 120) throws {
        var provided: Int32 = 0
        var code = MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
        guard code == MPI_SUCCESS else { throw MPIError("MPI_Init failed (code \(code))") }
        code = MPI_Comm_set_errhandler(steplab_mpi_comm_world(), steplab_mpi_errors_return())
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(steplab_mpi_comm_world(), &rank)
        MPI_Comm_size(steplab_mpi_comm_world(), &size)
        self.rank = Int(rank)
        self.size = Int(size)
        self.timeout = timeout
        watchdog = CollectiveWatchdog(rank: Int(rank), timeout: timeout)
    }

    /// Ends MPI; call once, after the last collective.
    public func finalize() {
        watchdog.stop()
        MPI_Finalize()
    }

    /// `values` from every rank, in rank order, on `root` (nil elsewhere). Every rank sends the same count.
    public func gather(_ values: [Float], root: Int = 0) throws -> [[Float]]? {
        let count = values.count
        var received = [Float](repeating: 0, count: rank == root ? count * size : 0)
        try collective("MPI_Gather") {
            values.withUnsafeBufferPointer { send in
                received.withUnsafeMutableBufferPointer { receive in
                    MPI_Gather(send.baseAddress, Int32(count), steplab_mpi_float(), receive.baseAddress, Int32(count), steplab_mpi_float(),
                               Int32(root), steplab_mpi_comm_world())
                }
            }
        }
        guard rank == root else { return nil }
        return (0 ..< size).map { Array(received[($0 * count) ..< (($0 + 1) * count)]) }
    }

    /// `send` from every rank, in rank order, into `receive` on `root` (`size` times send's count there; ignored
    /// elsewhere). The form without copies for gradient buckets, which waits without spinning (`waitSleeping`).
    public func gather(_ send: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>, root: Int = 0) throws {
        let count = send.count
        guard rank != root || receive.count >= count * size else {
            throw MPIError("rank \(rank): a gather of \(count) floats from \(size) ranks into \(receive.count)")
        }
        try collective("MPI_Igather") {
            var request: MPI_Request?
            let code = MPI_Igather(send.baseAddress, Int32(count), steplab_mpi_float(), receive.baseAddress, Int32(count), steplab_mpi_float(),
                                   Int32(root), steplab_mpi_comm_world(), &request)
            return code == MPI_SUCCESS ? Self.waitSleeping(&request) : code
        }
    }

    /// Replaces `values` on every rank with `root`'s, in place (same count everywhere); waits without spinning.
    public func broadcast(_ values: UnsafeMutableBufferPointer<Float>, root: Int = 0) throws {
        try collective("MPI_Ibcast") {
            var request: MPI_Request?
            let code = MPI_Ibcast(values.baseAddress, Int32(values.count), steplab_mpi_float(), Int32(root), steplab_mpi_comm_world(), &request)
            return code == MPI_SUCCESS ? Self.waitSleeping(&request) : code
        }
    }

    /// Completes `request`, sleeping between polls (20 us, doubling to 400 us). A blocking collective busy-polls its
    /// wait, which during a backward takes a core from the device's threads (on a CPU device, one of the cores the
    /// ranks compute on); bucket collectives wait for the other ranks' backwards, so they poll politely instead, and
    /// back off so that a long wait wakes the host rarely while a short one still ends within tens of microseconds.
    private static func waitSleeping(_ request: inout MPI_Request?) -> Int32 {
        var done: Int32 = 0, pause: UInt32 = 20
        while true {
            let code = MPI_Test(&request, &done, steplab_mpi_status_ignore())
            if code != MPI_SUCCESS || done != 0 { return code }
            usleep(pause)
            pause = Swift.min(2 * pause, 400)
        }
    }

    /// Replaces `values` on every rank with `root`'s (same count everywhere).
    public func broadcast(_ values: inout [Float], root: Int = 0) throws {
        let count = values.count
        try collective("MPI_Bcast") {
            values.withUnsafeMutableBufferPointer { buffer in
                MPI_Bcast(buffer.baseAddress, Int32(count), steplab_mpi_float(), Int32(root), steplab_mpi_comm_world())
            }
        }
    }

    /// `root`'s integer on every rank.
    public func broadcast(_ value: Int, root: Int = 0) throws -> Int {
        var word = Int32(clamping: value)
        try collective("MPI_Bcast") { MPI_Bcast(&word, 1, steplab_mpi_int(), Int32(root), steplab_mpi_comm_world()) }
        return Int(word)
    }

    /// Every rank's `value`, in rank order, on every rank.
    public func allGather(_ value: UInt64) throws -> [UInt64] {
        var send = value
        var received = [UInt64](repeating: 0, count: size)
        try collective("MPI_Allgather") {
            received.withUnsafeMutableBufferPointer { buffer in
                MPI_Allgather(&send, 1, steplab_mpi_uint64(), buffer.baseAddress, 1, steplab_mpi_uint64(), steplab_mpi_comm_world())
            }
        }
        return received
    }

    private func collective(_ name: String, _ body: () -> Int32) throws {
        watchdog.begin(name)
        let code = body()
        watchdog.end()
        guard code == MPI_SUCCESS else { throw MPIError("rank \(rank): \(name) failed (code \(code)); another rank has probably died") }
    }
}

/// An MPI failure, as one line.
public struct MPIError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
