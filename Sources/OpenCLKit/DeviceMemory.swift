import Synchronization

/// Bytes of device buffers a context holds now and at most since the last `resetPeak()`: StepLab allocates
/// every buffer through `Context.buffer`, so this is its whole device footprint (not the driver's own).
public final class DeviceMemory: Sendable {
    private let state = Mutex<(live: Int, peak: Int)>((0, 0))

    public init() {}

    /// Bytes held now.
    public var liveBytes: Int { state.withLock { $0.live } }
    /// The most bytes held at once since the context was made or `resetPeak()` was last called.
    public var peakBytes: Int { state.withLock { $0.peak } }

    /// Starts a new peak from the bytes held now.
    public func resetPeak() { state.withLock { $0.peak = $0.live } }

    func allocated(_ bytes: Int) {
        state.withLock { $0.live += bytes; $0.peak = max($0.peak, $0.live) }
    }

    func released(_ bytes: Int) { state.withLock { $0.live -= bytes } }
}
