import COpenCL

/// A program built for one device. Build failures throw `OpenCLError.build` carrying the compiler's log.
public final class Program: @unchecked Sendable {
    let handle: cl_program
    let source: String
    /// The name used in error messages (usually the `.cl` file name).
    public let name: String
    /// The options it was built with.
    public let options: String
    /// The device it was built for. The program deliberately does not retain its `Context`: the context's
    /// cache retains the program, and a reference back would keep both alive forever.
    public let device: Device

    init(context: Context, source: String, options: String, name: String) throws(OpenCLError) {
        var status: cl_int = 0
        let created: cl_program? = source.withCString { pointer in
            var text: UnsafePointer<CChar>? = pointer
            var length = source.utf8.count
            return clCreateProgramWithSource(context.handle, 1, &text, &length, &status)
        }
        guard let program = created, status == CL_SUCCESS else {
            throw .call("clCreateProgramWithSource(\(name))", status: status)
        }
        var device: cl_device_id? = context.device.id
        let built = clBuildProgram(program, 1, &device, options, nil, nil)
        if built != CL_SUCCESS {
            let log = Program.buildLog(program, device: context.device.id)
            clReleaseProgram(program)
            if built == CL_BUILD_PROGRAM_FAILURE || built == CL_INVALID_BUILD_OPTIONS {
                throw .build(program: name, device: context.device.info.name,
                             log: log.isEmpty ? OpenCLStatusNames.describe(built) : log)
            }
            throw .call("clBuildProgram(\(name))", status: built)
        }
        self.handle = program
        self.source = source
        self.name = name
        self.options = options
        self.device = context.device
    }

    deinit { clReleaseProgram(handle) }

    /// A new kernel object for the function `name`. Kernels hold argument state, so each user gets its own.
    public func kernel(_ name: String) throws(OpenCLError) -> Kernel {
        var status: cl_int = 0
        guard let kernel = clCreateKernel(handle, name, &status), status == CL_SUCCESS else {
            throw .call("clCreateKernel(\(name)) in \(self.name)", status: status)
        }
        return Kernel(handle: kernel, name: name, program: self)
    }

    static func buildLog(_ program: cl_program, device: cl_device_id) -> String {
        var size = 0
        guard clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size)
                == CL_SUCCESS, size > 1 else { return "" }
        var bytes = [CChar](repeating: 0, count: size)
        guard clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil)
                == CL_SUCCESS else { return "" }
        return cString(bytes)
    }
}
