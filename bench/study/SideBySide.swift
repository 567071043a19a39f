import Foundation

/// Runs `body` for each index in `0 ..< count`, at most `width` at a time, each on a thread of its own, and returns
/// the results in index order once every one has finished; the error of the lowest failing index is rethrown.
///
/// Why threads: a study's step at its 2-D sizes is launch-bound (about a hundred small kernels), so one study keeps
/// POCL's workers idle between kernels; two studies on their own engines fill those gaps (measured in docs/study.md,
/// "Parts and options"). Each body owns everything it creates (its engine above all), and its result is handed to
/// the caller only after its thread has ended, which is why a result need not be `Sendable`.
func sideBySide<T>(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
    let outcomes = Outcomes<T>(count: count)
    let slots = DispatchSemaphore(value: Swift.max(1, width))
    let finished = DispatchGroup()
    for index in 0 ..< count {
        slots.wait()
        finished.enter()
        let thread = Thread {
            outcomes.store(Result { try body(index) }, at: index)
            slots.signal()
            finished.leave()
        }
        // A study's Swift frames (sorting 16384-point projections, the bootstrap) outgrow a secondary thread's default 512 KiB.
        thread.stackSize = 16 << 20
        thread.start()
    }
    finished.wait()
    return try outcomes.collect()
}

/// The results of `sideBySide`'s threads: each slot is written once by its thread and read after all have ended.
private final class Outcomes<T>: @unchecked Sendable {
    private var results: [Result<T, any Error>?]
    private let lock = NSLock()

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func store(_ result: Result<T, any Error>, at index: Int) { lock.withLock { results[index] = result } }

    func collect() throws -> [T] { try lock.withLock { results }.map { try $0!.get() } }
}

/// Prints whole lines from several threads, each under its own prefix (none when a single study runs).
final class LinePrinter: Sendable {
    private let lock = NSLock()

    func print(_ line: String, prefix: String) {
        lock.withLock {
            if prefix.isEmpty {
                Swift.print(line)
            } else {
                Swift.print(line.split(separator: "\n", omittingEmptySubsequences: false).map { prefix + $0 }.joined(separator: "\n"))
            }
            fflush(nil)
        }
    }
}
