import Dispatch
import Synchronization

/// When an event completed, on the host's uptime clock, as OpenCL's completion callback saw it.
public final class CompletionStamp: Sendable {
    private let nanoseconds = Mutex<UInt64?>(nil)

    /// Starts watching `event`.
    public init(_ event: Event) throws(OpenCLError) {
        try event.onCompletion { [self] in
            let now = DispatchTime.now().uptimeNanoseconds
            self.nanoseconds.withLock { $0 = now }
        }
    }

    /// The completion time (DispatchTime's uptime nanoseconds), or nil while the callback has not run. A waiter may
    /// return before the callback does; it can take its own clock then.
    public var uptimeNanoseconds: UInt64? { nanoseconds.withLock { $0 } }
}
