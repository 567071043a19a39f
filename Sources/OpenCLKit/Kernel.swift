import COpenCL

/// A value that can be passed to a kernel parameter.
public protocol KernelArgument {
    /// Binds this value to parameter `index` of `kernel`.
    func bind(to kernel: cl_kernel, index: cl_uint) -> cl_int
}

extension Float: KernelArgument {}
extension Int32: KernelArgument {}
extension UInt32: KernelArgument {}

extension KernelArgument where Self: DeviceScalar {
    public func bind(to kernel: cl_kernel, index: cl_uint) -> cl_int {
        var value = self
        return clSetKernelArg(kernel, index, MemoryLayout<Self>.size, &value)
    }
}

extension Buffer: KernelArgument {
    public func bind(to kernel: cl_kernel, index: cl_uint) -> cl_int {
        var mem: cl_mem? = handle
        return clSetKernelArg(kernel, index, MemoryLayout<cl_mem>.size, &mem)
    }
}

/// One kernel function of a built program. Not thread-safe: arguments are kernel state.
public final class Kernel {
    let handle: cl_kernel
    /// The kernel function's name.
    public let name: String
    let program: Program
    /// Number of parameters the kernel declares.
    public let argumentCount: Int

    init(handle: cl_kernel, name: String, program: Program) {
        self.handle = handle
        self.name = name
        self.program = program
        var count: cl_uint = 0
        _ = clGetKernelInfo(handle, cl_kernel_info(CL_KERNEL_NUM_ARGS), MemoryLayout<cl_uint>.size, &count, nil)
        self.argumentCount = Int(count)
    }

    deinit { clReleaseKernel(handle) }

    /// The largest work-group this kernel can run with on the program's device.
    public var maxWorkGroupSize: Int {
        var size = 0
        _ = clGetKernelWorkGroupInfo(handle, program.device.id,
                                     cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE),
                                     MemoryLayout<Int>.size, &size, nil)
        return size
    }

    /// Binds `arguments` in order. The count must equal the kernel's parameter count.
    public func setArguments(_ arguments: [any KernelArgument]) throws(OpenCLError) {
        let expected = argumentCount
        guard arguments.count == expected else {
            throw .invalidRequest("kernel \(name) takes \(expected) arguments, got \(arguments.count)")
        }
        for (index, argument) in arguments.enumerated() {
            try check(argument.bind(to: handle, index: cl_uint(index)), "clSetKernelArg(\(name), \(index))")
        }
    }
}

extension CommandQueue {
    /// Enqueues `kernel` over `global` work-items (1 to 3 dimensions) in work-groups of `local` (nil lets the
    /// driver choose), the first at `offset` (get_global_id counts from it; nil: zero). Sizes are checked against
    /// the device limits before anything is enqueued. Returns the event when `timed` is set (use a profiling queue to
    /// read its duration).
    @discardableResult
    public func launch(_ kernel: Kernel, global: [Int], local: [Int]? = nil, offset: [Int]? = nil,
                       arguments: [any KernelArgument], timed: Bool = false) throws(OpenCLError) -> Event? {
        try validate(kernel, global: global, local: local)
        guard offset.map({ $0.count == global.count && $0.allSatisfy { $0 >= 0 } }) ?? true else {
            throw .invalidRequest("kernel \(kernel.name): offset \(offset!) must match global size \(global) in rank")
        }
        try kernel.setArguments(arguments)
        var event: cl_event? = nil
        let offsets = offset ?? [Int](repeating: 0, count: global.count)
        let status = withUnsafeMutablePointer(to: &event) { eventPointer in
            let eventOut: UnsafeMutablePointer<cl_event?>? = timed ? eventPointer : nil
            return global.withUnsafeBufferPointer { globalSizes in
                offsets.withUnsafeBufferPointer { globalOffsets in
                    guard let local else {
                        return clEnqueueNDRangeKernel(handle, kernel.handle, cl_uint(global.count), globalOffsets.baseAddress,
                                                      globalSizes.baseAddress, nil, 0, nil, eventOut)
                    }
                    return local.withUnsafeBufferPointer { localSizes in
                        clEnqueueNDRangeKernel(handle, kernel.handle, cl_uint(global.count), globalOffsets.baseAddress,
                                               globalSizes.baseAddress, localSizes.baseAddress, 0, nil, eventOut)
                    }
                }
            }
        }
        try check(status, "clEnqueueNDRangeKernel(\(kernel.name))")
        return event.map(Event.init)
    }

    func validate(_ kernel: Kernel, global: [Int], local: [Int]?) throws(OpenCLError) {
        let info = kernel.program.device.info
        guard (1...3).contains(global.count), global.allSatisfy({ $0 > 0 }) else {
            throw .invalidRequest("kernel \(kernel.name): global size \(global) must have 1-3 positive dimensions")
        }
        guard let local else { return }
        guard local.count == global.count, local.allSatisfy({ $0 > 0 }) else {
            throw .invalidRequest("kernel \(kernel.name): local size \(local) must match global size \(global) in rank")
        }
        let groupSize = local.reduce(1, *)
        let limit = min(info.maxWorkGroupSize, kernel.maxWorkGroupSize)
        guard groupSize <= limit else {
            throw .invalidRequest("kernel \(kernel.name): local size \(local) (\(groupSize) work-items) exceeds the "
                                  + "device limit of \(limit) work-items per group on \(info.name)")
        }
        for (dimension, size) in local.enumerated() where dimension < info.maxWorkItemSizes.count {
            guard size <= info.maxWorkItemSizes[dimension] else {
                throw .invalidRequest("kernel \(kernel.name): local size \(size) in dimension \(dimension) exceeds the "
                                      + "device limit of \(info.maxWorkItemSizes[dimension])")
            }
        }
        for (g, l) in zip(global, local) where g % l != 0 {
            throw .invalidRequest("kernel \(kernel.name): global size \(global) is not a multiple of local size \(local)")
        }
    }
}
