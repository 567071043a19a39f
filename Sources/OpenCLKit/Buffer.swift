import COpenCL

/// Element types a device buffer can hold; they match OpenCL C's `float`, `int` and `uint`.
public protocol DeviceScalar: Sendable, Equatable, BitwiseCopyable {
    static var zero: Self { get }
}
extension Float: DeviceScalar { public static var zero: Float { 0 } }
extension Int32: DeviceScalar { public static var zero: Int32 { 0 } }
extension UInt32: DeviceScalar { public static var zero: UInt32 { 0 } }

/// A typed device buffer of `count` elements. Transfers are blocking and size-checked.
public final class Buffer<T: DeviceScalar>: @unchecked Sendable {
    let handle: cl_mem
    /// Number of elements.
    public let count: Int
    let context: Context

    /// Size in bytes.
    public var byteCount: Int { count * MemoryLayout<T>.stride }

    init(context: Context, count: Int) throws(OpenCLError) {
        guard count > 0 else {
            throw .invalidRequest("a device buffer needs at least one element (asked for \(count))")
        }
        let bytes = count * MemoryLayout<T>.stride
        guard UInt64(bytes) <= context.device.info.maxAllocationBytes else {
            throw .invalidRequest("buffer of \(bytes) bytes exceeds the device's largest allocation "
                                  + "(\(context.device.info.maxAllocationBytes) bytes)")
        }
        var status: cl_int = 0
        guard let mem = clCreateBuffer(context.handle, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status),
              status == CL_SUCCESS else {
            throw .call("clCreateBuffer(\(bytes) bytes)", status: status)
        }
        self.handle = mem
        self.count = count
        self.context = context
        context.memory.allocated(bytes)
    }

    deinit {
        clReleaseMemObject(handle)
        context.memory.released(byteCount)
    }

    /// Copies `values` into the buffer starting at element `offset`.
    public func upload(_ values: [T], offset: Int = 0) throws(OpenCLError) {
        try checkRange(offset: offset, length: values.count, "upload")
        if values.isEmpty { return }
        let status = values.withUnsafeBytes { raw in
            clEnqueueWriteBuffer(context.queue.handle, handle, cl_bool(CL_TRUE), offset * MemoryLayout<T>.stride,
                                 raw.count, raw.baseAddress, 0, nil, nil)
        }
        try check(status, "clEnqueueWriteBuffer")
    }

    /// Reads `length` elements (default: all from `offset`) back to the host, after all queued work.
    public func download(offset: Int = 0, length: Int? = nil) throws(OpenCLError) -> [T] {
        let length = length ?? (count - offset)
        try checkRange(offset: offset, length: length, "download")
        var values = [T](repeating: T.zero, count: length)
        if length == 0 { return values }
        let status = values.withUnsafeMutableBytes { raw in
            clEnqueueReadBuffer(context.queue.handle, handle, cl_bool(CL_TRUE), offset * MemoryLayout<T>.stride,
                                raw.count, raw.baseAddress, 0, nil, nil)
        }
        try check(status, "clEnqueueReadBuffer")
        return values
    }

    /// Starts reading `destination.count` elements from element `offset` into `destination` after all queued work,
    /// without waiting: the returned event completes when they have arrived, and `destination` must stay allocated
    /// and untouched until then (a gradient bucket read while the device keeps computing).
    public func read(into destination: UnsafeMutableBufferPointer<T>, offset: Int = 0) throws(OpenCLError) -> Event {
        try checkRange(offset: offset, length: destination.count, "read")
        guard let base = destination.baseAddress, !destination.isEmpty else { throw .invalidRequest("a read into no elements") }
        var event: cl_event?
        try check(clEnqueueReadBuffer(context.queue.handle, handle, cl_bool(CL_FALSE), offset * MemoryLayout<T>.stride,
                                      destination.count * MemoryLayout<T>.stride, base, 0, nil, &event), "clEnqueueReadBuffer")
        return Event(event!)
    }

    /// Copies `source` into the buffer from element `offset`, blocking (the host memory form of `upload`).
    public func upload(_ source: UnsafeBufferPointer<T>, offset: Int = 0) throws(OpenCLError) {
        try checkRange(offset: offset, length: source.count, "upload")
        guard let base = source.baseAddress, !source.isEmpty else { return }
        try check(clEnqueueWriteBuffer(context.queue.handle, handle, cl_bool(CL_TRUE), offset * MemoryLayout<T>.stride,
                                       source.count * MemoryLayout<T>.stride, base, 0, nil, nil), "clEnqueueWriteBuffer")
    }

    /// Sets `length` elements from `offset` (default: all) to `value`, asynchronously.
    public func fill(_ value: T, offset: Int = 0, length: Int? = nil) throws(OpenCLError) {
        let length = length ?? (count - offset)
        try checkRange(offset: offset, length: length, "fill")
        if length == 0 { return }
        var pattern = value
        let stride = MemoryLayout<T>.stride
        try check(clEnqueueFillBuffer(context.queue.handle, handle, &pattern, stride, offset * stride,
                                      length * stride, 0, nil, nil), "clEnqueueFillBuffer")
    }

    /// Copies `length` elements of `source` (from `sourceOffset`) to this buffer at `offset`, asynchronously.
    public func copy(from source: Buffer<T>, sourceOffset: Int = 0, offset: Int = 0, length: Int? = nil) throws(OpenCLError) {
        let length = length ?? min(source.count - sourceOffset, count - offset)
        try source.checkRange(offset: sourceOffset, length: length, "copy source")
        try checkRange(offset: offset, length: length, "copy destination")
        if length == 0 { return }
        let stride = MemoryLayout<T>.stride
        try check(clEnqueueCopyBuffer(context.queue.handle, source.handle, handle, sourceOffset * stride,
                                      offset * stride, length * stride, 0, nil, nil), "clEnqueueCopyBuffer")
    }

    func checkRange(offset: Int, length: Int, _ operation: String) throws(OpenCLError) {
        guard offset >= 0, length >= 0, offset + length <= count else {
            throw .invalidRequest("\(operation) of \(length) elements at offset \(offset) does not fit a buffer of \(count)")
        }
    }
}
