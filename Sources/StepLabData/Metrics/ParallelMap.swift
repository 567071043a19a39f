import Foundation

/// `(0 ..< count).map(body)`, with the calls spread over all cores. Each call writes only its own slot and the
/// caller combines the results in index order, so sums over them do not depend on the thread schedule.
public func parallelMap<T: Sendable>(_ count: Int, _ body: @Sendable (Int) -> T) -> [T] {
    [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        // Safe to share: the iterations write disjoint slots, and concurrentPerform returns after all of them.
        nonisolated(unsafe) let slots = buffer
        DispatchQueue.concurrentPerform(iterations: count) { i in
            (slots.baseAddress! + i).initialize(to: body(i))
        }
        initialized = count
    }
}
