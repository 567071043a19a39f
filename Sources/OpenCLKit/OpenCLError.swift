import COpenCL
import Foundation

/// The one error type of OpenCLKit. Every case renders as a single line that names what failed.
public enum OpenCLError: Error, CustomStringConvertible, Equatable {
    /// An OpenCL call returned a non-success status.
    case call(String, status: Int32)
    /// The ICD loader found no platform at all.
    case noPlatform
    /// `clBuildProgram` failed; `log` is the compiler's build log.
    case build(program: String, device: String, log: String)
    /// A device selector matched nothing; `available` lists what exists.
    case unknownDevice(selector: String, available: [String])
    /// A request was refused on the host, before reaching the driver (sizes, limits, argument counts).
    case invalidRequest(String)
    /// A kernel source file could not be found or read.
    case missingSource(String)

    public var description: String {
        switch self {
        case let .call(function, status):
            return "\(function) failed: \(OpenCLStatusNames.describe(status))"
        case .noPlatform:
            return "no OpenCL platform found: install one (Debian: `apt-get install pocl-opencl-icd` for CPUs, "
                + "or your GPU vendor's OpenCL ICD), and check OCL_ICD_VENDORS / /etc/OpenCL/vendors"
        case let .build(program, device, log):
            let trimmed = log.trimmingCharacters(in: CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: "\0")))
            return "OpenCL build of \(program) failed on \(device): \(trimmed)"
        case let .unknownDevice(selector, available):
            return "no OpenCL device matches '\(selector)'; available: "
                + available.joined(separator: "; ")
        case let .invalidRequest(message):
            return message
        case let .missingSource(message):
            return message
        }
    }
}

/// Throws `OpenCLError.call` when `status` is not `CL_SUCCESS`.
@inline(__always)
func check(_ status: cl_int, _ function: @autoclosure () -> String) throws(OpenCLError) {
    if status != CL_SUCCESS { throw OpenCLError.call(function(), status: status) }
}

