import COpenCL

/// The kind of an OpenCL device, as far as StepLab cares.
public enum DeviceKind: String, Sendable, Codable {
    case gpu, cpu, accelerator, other
}

/// Properties of one OpenCL device, read once at enumeration.
public struct DeviceInfo: Sendable, Codable, Equatable {
    /// Position in the flattened list of all devices of all platforms (the `--device N` index).
    public var index: Int
    public var name: String
    public var vendor: String
    public var platform: String
    public var kind: DeviceKind
    public var computeUnits: Int
    public var clockMHz: Int
    public var globalMemoryBytes: UInt64
    public var localMemoryBytes: UInt64
    public var maxAllocationBytes: UInt64
    public var maxWorkGroupSize: Int
    public var maxWorkItemSizes: [Int]
    public var openCLCVersion: String
    public var driverVersion: String
    public var extensions: [String]
    public var supportsFP64: Bool

    /// One line for lists and error messages: `0: NAME (cpu, PLATFORM)`.
    public var summary: String { "\(index): \(name) (\(kind.rawValue), \(platform))" }
}

/// A device handle paired with its properties. Device ids are owned by the platform and never released.
public struct Device: @unchecked Sendable {
    public let id: cl_device_id
    public let info: DeviceInfo
}

/// Reads a fixed-size device property.
func deviceValue<T: BitwiseCopyable>(_ device: cl_device_id, _ param: cl_device_info, _ type: T.Type, _ zero: T) throws(OpenCLError) -> T {
    var value = zero
    try check(clGetDeviceInfo(device, param, MemoryLayout<T>.size, &value, nil), "clGetDeviceInfo")
    return value
}

/// Reads a string device property.
func deviceString(_ device: cl_device_id, _ param: cl_device_info) throws(OpenCLError) -> String {
    var size = 0
    try check(clGetDeviceInfo(device, param, 0, nil, &size), "clGetDeviceInfo")
    var bytes = [CChar](repeating: 0, count: max(size, 1))
    try check(clGetDeviceInfo(device, param, size, &bytes, nil), "clGetDeviceInfo")
    return cString(bytes)
}

/// Reads a string platform property.
func platformString(_ platform: cl_platform_id, _ param: cl_platform_info) throws(OpenCLError) -> String {
    var size = 0
    try check(clGetPlatformInfo(platform, param, 0, nil, &size), "clGetPlatformInfo")
    var bytes = [CChar](repeating: 0, count: max(size, 1))
    try check(clGetPlatformInfo(platform, param, size, &bytes, nil), "clGetPlatformInfo")
    return cString(bytes)
}

/// Decodes a NUL-terminated C string held in an array.
func cString(_ bytes: [CChar]) -> String {
    let end = bytes.firstIndex(of: 0) ?? bytes.count
    return String(decoding: bytes[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
