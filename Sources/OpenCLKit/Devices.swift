import COpenCL
import Foundation

/// Enumeration and selection of the OpenCL devices on this machine.
public enum Devices {
    private static let enumerationLock = NSLock()

    /// Every device of every platform, in platform order. Throws `.noPlatform` when the ICD loader finds none.
    public static func all() throws(OpenCLError) -> [Device] {
        // ocl-icd loads its vendor list on the first call, and that first call is not safe to race.
        enumerationLock.lock()
        defer { enumerationLock.unlock() }
        var platformCount: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &platformCount)
        // ocl-icd answers CL_PLATFORM_NOT_FOUND_KHR (-1001) when no vendor ICD is installed.
        if status == CL_PLATFORM_NOT_FOUND_KHR || (status == CL_SUCCESS && platformCount == 0) {
            throw .noPlatform
        }
        try check(status, "clGetPlatformIDs")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        try check(clGetPlatformIDs(platformCount, &platforms, nil), "clGetPlatformIDs")

        var devices: [Device] = []
        for case let platform? in platforms {
            let platformName = try platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
            var count: cl_uint = 0
            let found = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &count)
            if found == CL_DEVICE_NOT_FOUND || count == 0 { continue }
            try check(found, "clGetDeviceIDs")
            var ids = [cl_device_id?](repeating: nil, count: Int(count))
            try check(clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), count, &ids, nil), "clGetDeviceIDs")
            for case let id? in ids {
                let info = try describe(id, index: devices.count, platform: platformName)
                devices.append(Device(id: id, info: info))
            }
        }
        if devices.isEmpty { throw .noPlatform }
        return devices
    }

    /// Picks a device. `selector` (else `STEPLAB_DEVICE`, else the first GPU, else the first device) may be an
    /// index (`0`), a type (`gpu`, `cpu`, `accelerator`) or a case-insensitive substring of the device name.
    public static func select(_ selector: String? = nil, environment: [String: String] = currentEnvironment()) throws(OpenCLError) -> Device {
        let devices = try all()
        let chosen = selector ?? environment["STEPLAB_DEVICE"]
        guard let raw = chosen?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else {
            return devices.first { $0.info.kind == .gpu } ?? devices[0]
        }
        if let match = try match(raw, in: devices) { return match }
        throw .unknownDevice(selector: raw, available: devices.map(\.info.summary))
    }

    /// The device `selector` names among `devices`, or nil.
    static func match(_ selector: String, in devices: [Device]) throws(OpenCLError) -> Device? {
        if let index = Int(selector) {
            return devices.indices.contains(index) ? devices[index] : nil
        }
        let lowered = selector.lowercased()
        if let kind = DeviceKind(rawValue: lowered) {
            return devices.first { $0.info.kind == kind }
        }
        return devices.first { $0.info.name.lowercased().contains(lowered) }
    }

    static func describe(_ id: cl_device_id, index: Int, platform: String) throws(OpenCLError) -> DeviceInfo {
        let type = try deviceValue(id, cl_device_info(CL_DEVICE_TYPE), cl_device_type.self, 0)
        let kind: DeviceKind
        if type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 { kind = .gpu }
        else if type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 { kind = .cpu }
        else if type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 { kind = .accelerator }
        else { kind = .other }
        let dimensions = try deviceValue(id, cl_device_info(CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS), cl_uint.self, 0)
        var itemSizes = [Int](repeating: 0, count: Int(dimensions))
        try check(clGetDeviceInfo(id, cl_device_info(CL_DEVICE_MAX_WORK_ITEM_SIZES),
                                  MemoryLayout<Int>.stride * itemSizes.count, &itemSizes, nil), "clGetDeviceInfo")
        let extensions = try deviceString(id, cl_device_info(CL_DEVICE_EXTENSIONS))
            .split(separator: " ").map(String.init)
        let fp64 = try deviceValue(id, cl_device_info(CL_DEVICE_DOUBLE_FP_CONFIG), cl_device_fp_config.self, 0)
        return DeviceInfo(
            index: index,
            name: try deviceString(id, cl_device_info(CL_DEVICE_NAME)).trimmingCharacters(in: .whitespaces),
            vendor: try deviceString(id, cl_device_info(CL_DEVICE_VENDOR)),
            platform: platform,
            kind: kind,
            computeUnits: Int(try deviceValue(id, cl_device_info(CL_DEVICE_MAX_COMPUTE_UNITS), cl_uint.self, 0)),
            clockMHz: Int(try deviceValue(id, cl_device_info(CL_DEVICE_MAX_CLOCK_FREQUENCY), cl_uint.self, 0)),
            globalMemoryBytes: try deviceValue(id, cl_device_info(CL_DEVICE_GLOBAL_MEM_SIZE), cl_ulong.self, 0),
            localMemoryBytes: try deviceValue(id, cl_device_info(CL_DEVICE_LOCAL_MEM_SIZE), cl_ulong.self, 0),
            maxAllocationBytes: try deviceValue(id, cl_device_info(CL_DEVICE_MAX_MEM_ALLOC_SIZE), cl_ulong.self, 0),
            maxWorkGroupSize: try deviceValue(id, cl_device_info(CL_DEVICE_MAX_WORK_GROUP_SIZE), Int.self, 0),
            maxWorkItemSizes: itemSizes,
            openCLCVersion: try deviceString(id, cl_device_info(CL_DEVICE_OPENCL_C_VERSION)),
            driverVersion: try deviceString(id, cl_device_info(CL_DRIVER_VERSION)),
            extensions: extensions,
            supportsFP64: fp64 != 0 || extensions.contains("cl_khr_fp64")
        )
    }
}


/// The process environment, as a default argument that tests can replace.
public func currentEnvironment() -> [String: String] { ProcessInfo.processInfo.environment }
