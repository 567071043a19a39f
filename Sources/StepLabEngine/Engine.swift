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

    struct KernelKey: Hashable {
        let file: String
        let function: String
        let options: String
    }

    /// An engine on `context`.
    public init(context: Context) {
        self.context = context
    }

    /// An engine on the device `selector` picks (see `Devices.select`).
    public convenience init(device selector: String? = nil, profiling: Bool = false) throws(OpenCLError) {
        try self.init(context: Context(selector: selector, profiling: profiling))
    }

    /// The device's properties.
    public var device: DeviceInfo { context.device.info }

    /// The kernel `function` of `file`, built with `options` on first use.
    public func kernel(_ file: String, _ function: String, options: String = "") throws(OpenCLError) -> Kernel {
        let key = KernelKey(file: file, function: function, options: options)
        if let kernel = kernels[key] { return kernel }
        let program = try context.program(source: KernelLibrary.source(file), options: options, name: file)
        let kernel = try program.kernel(function)
        kernels[key] = kernel
        return kernel
    }

    /// Launches `function` of `file` over `global` work-items.
    @discardableResult
    public func launch(_ file: String, _ function: String, global: [Int], local: [Int]? = nil,
                       options: String = "", _ arguments: any KernelArgument...) throws(OpenCLError) -> Event? {
        let kernel = try kernel(file, function, options: options)
        return try context.queue.launch(kernel, global: global, local: local, arguments: arguments)
    }

    /// Waits for all queued work.
    public func synchronize() throws(OpenCLError) { try context.queue.finish() }
}
