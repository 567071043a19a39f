import COpenCL

/// An in-order command queue. Enqueues are asynchronous; `finish()` waits for all of them.
public final class CommandQueue: @unchecked Sendable {
    let handle: cl_command_queue
    let device: cl_device_id
    /// Whether events from this queue carry start/end timestamps.
    public let profiling: Bool

    init(context: cl_context, device: cl_device_id, profiling: Bool) throws(OpenCLError) {
        var status: cl_int = 0
        let properties = profiling ? cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE) : 0
        guard let queue = clCreateCommandQueue(context, device, properties, &status), status == CL_SUCCESS else {
            throw .call("clCreateCommandQueue", status: status)
        }
        self.handle = queue
        self.device = device
        self.profiling = profiling
    }

    deinit { clReleaseCommandQueue(handle) }

    /// Blocks until every enqueued command has completed.
    public func finish() throws(OpenCLError) {
        try check(clFinish(handle), "clFinish")
    }

    /// An event that completes when every command enqueued so far has (clEnqueueMarkerWithWaitList).
    public func marker() throws(OpenCLError) -> Event {
        var event: cl_event?
        try check(clEnqueueMarkerWithWaitList(handle, 0, nil, &event), "clEnqueueMarkerWithWaitList")
        return Event(event!)
    }

    /// Submits enqueued commands to the device without waiting.
    public func flush() throws(OpenCLError) {
        try check(clFlush(handle), "clFlush")
    }
}

/// A completed-or-pending command. With a profiling queue, `duration` gives its device time.
public final class Event: @unchecked Sendable {
    let handle: cl_event

    init(_ handle: cl_event) { self.handle = handle }
    deinit { clReleaseEvent(handle) }

    /// Blocks until the command completes.
    public func wait() throws(OpenCLError) {
        var event: cl_event? = handle
        try check(clWaitForEvents(1, &event), "clWaitForEvents")
    }

    /// Whether the command has completed (does not wait).
    public func isComplete() throws(OpenCLError) -> Bool {
        var status: cl_int = 0
        try check(clGetEventInfo(handle, cl_event_info(CL_EVENT_COMMAND_EXECUTION_STATUS), MemoryLayout<cl_int>.size, &status, nil),
                  "clGetEventInfo")
        return status == CL_COMPLETE
    }

    /// Calls `body` on an OpenCL thread once the command completes (at once if it has): a completion time taken
    /// there is the device's, not the moment a busy host got round to asking.
    public func onCompletion(_ body: @escaping @Sendable () -> Void) throws(OpenCLError) {
        let context = Unmanaged.passRetained(CompletionCallback(body)).toOpaque()
        let status = clSetEventCallback(handle, CL_COMPLETE, { _, _, data in
            Unmanaged<CompletionCallback>.fromOpaque(data!).takeRetainedValue().body()
        }, context)
        guard status == CL_SUCCESS else {
            Unmanaged<CompletionCallback>.fromOpaque(context).release()
            throw .call("clSetEventCallback", status: status)
        }
    }

    /// Device time from start to end of the command, in seconds (waits for completion). Needs a profiling queue.
    public func duration() throws(OpenCLError) -> Double {
        try wait()
        var start: cl_ulong = 0
        var end: cl_ulong = 0
        try check(clGetEventProfilingInfo(handle, cl_profiling_info(CL_PROFILING_COMMAND_START),
                                          MemoryLayout<cl_ulong>.size, &start, nil), "clGetEventProfilingInfo")
        try check(clGetEventProfilingInfo(handle, cl_profiling_info(CL_PROFILING_COMMAND_END),
                                          MemoryLayout<cl_ulong>.size, &end, nil), "clGetEventProfilingInfo")
        return Double(end &- start) * 1e-9
    }
}
