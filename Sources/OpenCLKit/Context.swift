import COpenCL
import Foundation

/// An OpenCL context on one device, with its in-order command queue and its program cache.
///
/// All OpenCL objects made from a context are released deterministically when their Swift owner dies.
public final class Context: @unchecked Sendable {
    public let device: Device
    let handle: cl_context
    /// The default in-order queue that the engine launches on.
    public let queue: CommandQueue
    /// What this context's buffers hold on the device, now and at peak.
    public let memory = DeviceMemory()
    private let programs = ProgramCache()

    /// Makes a context and queue on `device`; `profiling` enables event timing on the queue.
    public init(device: Device, profiling: Bool = false) throws(OpenCLError) {
        self.device = device
        var status: cl_int = 0
        var id: cl_device_id? = device.id
        guard let context = clCreateContext(nil, 1, &id, nil, nil, &status), status == CL_SUCCESS else {
            throw .call("clCreateContext", status: status)
        }
        handle = context
        do {
            queue = try CommandQueue(context: context, device: device.id, profiling: profiling)
        } catch {
            clReleaseContext(context)
            throw error
        }
    }

    /// A context on the device that `selector` (or `STEPLAB_DEVICE`, or the default rule) picks.
    public convenience init(selector: String? = nil, profiling: Bool = false) throws(OpenCLError) {
        try self.init(device: Devices.select(selector), profiling: profiling)
    }

    deinit { clReleaseContext(handle) }

    /// Builds `source` with `options` (e.g. `-D TILE=32`), or returns the cached program built from the same
    /// source and options on this device. `name` appears in build errors.
    public func program(source: String, options: String = "", name: String = "program") throws(OpenCLError) -> Program {
        let key = ProgramCache.Key(device: UInt(bitPattern: device.id), sourceHash: source.hashValue,
                                   sourceLength: source.utf8.count, options: options)
        if let cached = programs.lookup(key, source: source) { return cached }
        let program = try Program(context: self, source: source, options: options, name: name)
        programs.store(key, program)
        return program
    }

    /// A device buffer of `count` elements, uninitialised.
    public func buffer<T: DeviceScalar>(_ type: T.Type = T.self, count: Int) throws(OpenCLError) -> Buffer<T> {
        try Buffer<T>(context: self, count: count)
    }

    /// A device buffer holding a copy of `values`.
    public func buffer<T: DeviceScalar>(_ values: [T]) throws(OpenCLError) -> Buffer<T> {
        let buffer = try Buffer<T>(context: self, count: values.count)
        try buffer.upload(values)
        return buffer
    }
}

/// Programs keyed by device, source and build options. The source text itself is compared on a hit, so a
/// hash collision can never hand back the wrong program.
final class ProgramCache: @unchecked Sendable {
    struct Key: Hashable {
        let device: UInt
        let sourceHash: Int
        let sourceLength: Int
        let options: String
    }

    private var entries: [Key: Program] = [:]
    private let lock = NSLock()

    var count: Int { lock.withLock { entries.count } }

    func lookup(_ key: Key, source: String) -> Program? {
        lock.withLock {
            guard let program = entries[key], program.source == source else { return nil }
            return program
        }
    }

    func store(_ key: Key, _ program: Program) {
        lock.withLock { entries[key] = program }
    }
}
