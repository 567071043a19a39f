import Foundation

/// Ends the process when a collective has waited longer than `timeout`: MPI collectives block until every rank
/// arrives, so a dead peer would otherwise hang the survivors forever. Open MPI's mpirun also stops the job when a
/// rank exits abnormally; this bounds the wait where it does not (a rank stuck, or a launcher that does not).
final class CollectiveWatchdog: @unchecked Sendable {
    let rank: Int
    let timeout: Double
    private let lock = NSLock()
    private var started: Date?
    private var name = ""
    private var running = true
    private var thread: Thread?

    init(rank: Int, timeout: Double) {
        self.rank = rank
        self.timeout = timeout
        let thread = Thread { [weak self] in self?.watch() }
        thread.name = "steplab-mpi-watchdog"
        self.thread = thread
        thread.start()
    }

    func begin(_ collective: String) {
        lock.lock(); started = Date(); name = collective; lock.unlock()
    }

    func end() {
        lock.lock(); started = nil; lock.unlock()
    }

    func stop() {
        lock.lock(); running = false; lock.unlock()
    }

    private func watch() {
        while true {
            Thread.sleep(forTimeInterval: Swift.min(1, timeout / 4))
            lock.lock()
            let (since, collective, alive) = (started, name, running)
            lock.unlock()
            guard alive else { return }
            if let since, Date().timeIntervalSince(since) > timeout {
                FileHandle.standardError.write(Data("error: rank \(rank): \(collective) waited \(Int(timeout)) s for the other ranks; one has probably died. Stopping.\n".utf8))
                _exit(1)
            }
        }
    }
}
