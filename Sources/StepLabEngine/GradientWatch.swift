import Dispatch
import OpenCLKit

/// One replica's gradients followed through a step's backward, so their reduction can start while the device
/// keeps differentiating. The backward tells the watch (through the `ParameterStore`) when a parameter's gradient
/// is final; when a bucket's last one is, the watch enqueues a non-blocking read of that bucket into host memory,
/// in the device's in-order queue right behind the kernels that wrote it. The reduction then takes the buckets in
/// the order they were read (`order`), which every replica and rank of a job shares: the same network records the
/// same ops in the same order.
///
/// The plan comes from the forward (an op's backward adds the gradients of the parameters it read), and the
/// backward checks it: a gradient written after its bucket was read, or a second backward in one step, marks the
/// step `valid == false`, and the reduction falls back to reading the whole vector after the step.
public final class GradientWatch {
    public let buckets: GradientBuckets
    /// The replica's flat gradients.
    public let gradients: Tensor
    let queue: CommandQueue
    /// Host copies of the gradients, bucket by bucket; the reductions sum into the first replica's.
    public let staging: UnsafeMutableBufferPointer<Float>
    /// Buckets in the order they were read this step.
    public private(set) var order: [Int] = []
    /// Whether every gradient was final when its bucket was read.
    public private(set) var valid = true
    private var remaining: [Int]
    private var final: Set<Int> = []
    private var reads: [Event?]
    private var backwardPasses = 0
    private var watching = false
    private var finished: (event: Event, stamp: CompletionStamp)?

    /// A watch over `store`'s gradients on `engine`, with buckets of about `bucketFloats` values; it becomes the
    /// store's `watch`.
    public init(store: ParameterStore, engine: Engine, bucketFloats: Int) throws(OpenCLError) {
        buckets = try GradientBuckets(entries: store.entries, floats: bucketFloats)
        gradients = store.gradients
        queue = engine.context.queue
        staging = .allocate(capacity: store.count)
        staging.initialize(repeating: 0)
        remaining = [Int](repeating: 0, count: buckets.ranges.count)
        reads = [Event?](repeating: nil, count: buckets.ranges.count)
        store.watch = self
    }

    deinit {
        // A read still in flight writes into `staging`: it must land before the memory goes.
        for read in reads { try? read?.wait() }
        staging.deallocate()
    }

    /// Starts a step: no gradient is final yet.
    public func beginStep() {
        // A read still in flight (a step that failed before its reduction) must land before this step reuses `staging`.
        for read in reads { try? read?.wait() }
        remaining = [Int](repeating: 0, count: buckets.ranges.count)
        for bucket in buckets.bucketOfOffset.values { remaining[bucket] += 1 }
        reads = [Event?](repeating: nil, count: buckets.ranges.count)
        final = []; order = []; valid = true; backwardPasses = 0; finished = nil
        watching = true
    }

    /// Ends a step's computation: the buckets not read yet are read now, in layout order, and a marker notes when
    /// the device finished the step's gradients.
    public func finishStep() throws(OpenCLError) {
        guard watching else { throw .invalidRequest("finishStep without beginStep") }
        for bucket in reads.indices where reads[bucket] == nil { try read(bucket) }
        let marker = try queue.marker()
        finished = (marker, try CompletionStamp(marker))
        watching = false
    }

    /// Waits until `bucket` has arrived in `staging`.
    public func wait(for bucket: Int) throws(OpenCLError) {
        guard let event = reads[bucket] else { throw .invalidRequest("gradient bucket \(bucket) was never read") }
        try event.wait()
    }

    /// When the device finished the step's gradients (uptime nanoseconds); waits for it.
    public func finishedAt() throws(OpenCLError) -> UInt64 {
        guard let finished else { throw .invalidRequest("finishedAt before finishStep") }
        try finished.event.wait()
        return finished.stamp.uptimeNanoseconds ?? DispatchTime.now().uptimeNanoseconds
    }

    /// A backward pass over the store begins; the plan holds for one per step.
    func beginBackward() {
        guard watching else { return }
        backwardPasses += 1
        if backwardPasses > 1 { valid = false }
    }

    /// The gradients of the parameters at `offsets` are final: read every bucket that now has all of its.
    func final(offsets: [Int]) throws(OpenCLError) {
        guard watching, valid else { return }
        for offset in offsets {
            guard let bucket = buckets.bucketOfOffset[offset], final.insert(offset).inserted else { continue }
            remaining[bucket] -= 1
            if remaining[bucket] == 0 { try read(bucket) }
        }
    }

    /// A backward is about to add into the gradient at `offset`: too late if its bucket was already read.
    func willWrite(offset: Int) {
        if watching && final.contains(offset) { valid = false }
    }

    private func read(_ bucket: Int) throws(OpenCLError) {
        let range = buckets.ranges[bucket]
        let destination = UnsafeMutableBufferPointer(rebasing: staging[range])
        reads[bucket] = try gradients.storage.read(into: destination, offset: gradients.offset + range.lowerBound)
        order.append(bucket)
    }
}
