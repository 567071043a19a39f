import OpenCLKit
import StepLabKernels

/// The compute engine: one OpenCL context and queue, and the kernels built from `Kernels/*.cl` for it.
///
/// Kernels are built on first use and kept, keyed by file, function and build options. An `Engine` is used
/// from one thread at a time (OpenCL kernel objects carry their arguments).
public final class Engine {
    /// The OpenCL context everything runs in.
    public let context: Context
    private var kernels: [KernelKey: Kernel] = [:]
    private var scratchBuffer: Buffer<Float>?
    private var zeroBuffer: Buffer<Float>?
    /// Records every launch's device time when set (needs a context made with `profiling: true`).
    public var profiler: KernelProfiler?
    /// The matmul kernel and tunables in use; defaults from the device type (`MatmulTuning.defaults`).
    public var matmulTuning: MatmulTuning
    /// How GroupNorm and LayerNorm spread a sample over work-items: a work-group per sample on GPUs, one work-item on
    /// the others.
    public var groupNormVariant: GroupNormVariant
    /// How the attention forward spreads a head over work-items: a work-group per tile of query rows on GPUs, a
    /// work-item per row of the probabilities on the others.
    public var attentionVariant: AttentionVariant
    /// Output pixels per chunk of the CPU weight gradient's sum (`conv_weight_cpu`), which sets the order of its
    /// additions; fixed rather than tuned, so the order does not depend on the device's tuning. Tests lower it to split
    /// tiny batches.
    public var weightGradientChunk = 1024

    struct KernelKey: Hashable {
        let files: [String]
        let function: String
        let options: String
    }

    /// An engine on `context`. Its matmul tuning is the device's entry in the tuning database (`TuningDatabase`),
    /// else the default for its type, overridden by `STEPLAB_MATMUL` when set; its GroupNorm variant follows the device
    /// type unless `STEPLAB_GROUPNORM` names one (`perSample`, `workGroup`), and its attention variant likewise unless
    /// `STEPLAB_ATTENTION` names one (`perRow`, `workGroup`).
    public init(context: Context, environment: [String: String] = currentEnvironment()) throws(OpenCLError) {
        self.context = context
        var tuning = try TuningDatabase.embedded().tuning(for: context.device.info) ?? MatmulTuning.defaults(for: context.device.info)
        if let spec = environment["STEPLAB_MATMUL"] { tuning = try MatmulTuning.parse(spec, base: tuning) }
        try tuning.validate(context.device.info)
        self.matmulTuning = tuning
        groupNormVariant = context.device.info.kind == .gpu ? .workGroup : .perSample
        if let name = environment["STEPLAB_GROUPNORM"] {
            guard let variant = GroupNormVariant(rawValue: name) else {
                throw .invalidRequest("STEPLAB_GROUPNORM must be perSample or workGroup, got '\(name)'")
            }
            groupNormVariant = variant
        }
        attentionVariant = context.device.info.kind == .gpu ? .workGroup : .perRow
        if let name = environment["STEPLAB_ATTENTION"] {
            guard let variant = AttentionVariant(rawValue: name) else {
                throw .invalidRequest("STEPLAB_ATTENTION must be perRow or workGroup, got '\(name)'")
            }
            attentionVariant = variant
        }
    }

    /// An engine on the device `selector` picks (see `Devices.select`).
    public convenience init(device selector: String? = nil, profiling: Bool = false) throws(OpenCLError) {
        try self.init(context: Context(selector: selector, profiling: profiling))
    }

    /// The device's properties.
    public var device: DeviceInfo { context.device.info }

    /// The kernel `function` of the program made by concatenating `files` (helpers first), built with
    /// `options` on first use.
    public func kernel(files: [String], _ function: String, options: String = "") throws(OpenCLError) -> Kernel {
        let key = KernelKey(files: files, function: function, options: options)
        if let kernel = kernels[key] { return kernel }
        var source = ""
        for file in files { source += try KernelLibrary.source(file) + "\n" }
        // -w: POCL's compiler otherwise prints "N warnings generated." to the user's stderr on every cold build, for
        // notes on float16 arguments changing the ABI without AVX-512 (nothing wrong in the kernels), and a CLI error
        // must stay one line. Errors still fail the build with the compiler's log; `clang -x cl` shows the warnings.
        let program = try context.program(source: source, options: options.isEmpty ? "-w" : options + " -w", name: files.joined(separator: "+"))
        let kernel = try program.kernel(function)
        kernels[key] = kernel
        return kernel
    }

    /// Launches `function` of the program built from `files` over `global` work-items. Package-wide, not public: a kernel
    /// reaches users through a typed op (a method that checks shapes, with a float64 twin in `Reference`).
    @discardableResult
    package func launch(files: [String], _ function: String, global: [Int], local: [Int]? = nil,
                       options: String = "", _ arguments: any KernelArgument...) throws(OpenCLError) -> Event? {
        try enqueue(kernel(files: files, function, options: options), options: options, global: global, local: local,
                    arguments: arguments)
    }

    /// Launches `function` of `file` (built after the files it depends on, `KernelLibrary.dependencies`) over
    /// `global` work-items (package-wide, as `launch(files:)`).
    @discardableResult
    package func launch(_ file: String, _ function: String, global: [Int], local: [Int]? = nil,
                       options: String = "", _ arguments: any KernelArgument...) throws(OpenCLError) -> Event? {
        try enqueue(kernel(files: KernelLibrary.program(file), function, options: options), options: options, global: global, local: local,
                    arguments: arguments)
    }

    private func enqueue(_ kernel: Kernel, options: String, global: [Int], local: [Int]?,
                         arguments: [any KernelArgument]) throws(OpenCLError) -> Event? {
        let timed = profiler != nil && context.queue.profiling
        func launch(_ global: [Int], local: [Int]? = nil, offset: [Int]? = nil) throws(OpenCLError) -> Event? {
            let event = try context.queue.launch(kernel, global: global, local: local, offset: offset, arguments: arguments, timed: timed)
            if timed { profiler?.record(kernel.name, global: global, options: options, event) }
            return event
        }
        // A driver that picks the work-group itself takes a divisor of the global size: POCL runs a parameter
        // count like 219522 (2 x 3 x 36587) as 36587 groups of six, whose scheduling outweighs the work. So a long
        // 1-D launch runs as a body of whole groups and a tail at an offset (get_global_id counts on across both).
        let group = Self.splitGroup
        if local == nil, global.count == 1, global[0] > 16 * group, global[0] % group != 0 {
            let body = global[0] - global[0] % group
            _ = try launch([body])
            return try launch([global[0] - body], offset: [body])
        }
        return try launch(global, local: local)
    }

    /// The multiple a long 1-D launch's body is rounded down to (see `enqueue`).
    static let splitGroup = 64

    /// The `-D VW` of a kernel walking rows of `channels` values in `Kernels/vectors.cl`'s vectors: 8 or 4 where the
    /// count allows, else 1.
    static func vectorWidth(channels: Int) -> Int { channels % 8 == 0 ? 8 : channels % 4 == 0 ? 4 : 1 }

    /// A device scratch buffer of at least `count` floats, reused across calls (the queue is in order, so the
    /// next user cannot overwrite it before the previous kernel has read it). Grows, never shrinks.
    func scratch(count: Int) throws(OpenCLError) -> Buffer<Float> {
        if let buffer = scratchBuffer, buffer.count >= count { return buffer }
        let buffer = try context.buffer(Float.self, count: count)
        scratchBuffer = buffer
        return buffer
    }

    /// A buffer of at least `count` zeros that kernels only read (grown, never written after).
    func zeros(count: Int) throws(OpenCLError) -> Buffer<Float> {
        if let buffer = zeroBuffer, buffer.count >= count { return buffer }
        let buffer = try context.buffer([Float](repeating: 0, count: Swift.max(count, 1024)))
        zeroBuffer = buffer
        return buffer
    }

    /// Waits for all queued work.
    public func synchronize() throws(OpenCLError) { try context.queue.finish() }
}
