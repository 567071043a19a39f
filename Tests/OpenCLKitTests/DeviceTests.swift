import Foundation
import Testing
@testable import OpenCLKit

@Suite struct DeviceTests {
    @Test func enumeratesAtLeastOneDeviceWithSaneProperties() throws {
        let devices = try Devices.all()
        #expect(!devices.isEmpty)
        for (index, device) in devices.enumerated() {
            #expect(device.info.index == index)
            #expect(!device.info.name.isEmpty)
            #expect(device.info.computeUnits > 0)
            #expect(device.info.maxWorkGroupSize > 0)
            #expect(device.info.globalMemoryBytes > 0)
            #expect(device.info.openCLCVersion.hasPrefix("OpenCL C"))
        }
    }

    @Test func findsPoclCPUDeviceWhenPoclIsInstalled() throws {
        guard FileManager.default.fileExists(atPath: "/etc/OpenCL/vendors/pocl.icd") else { return }
        let devices = try Devices.all()
        #expect(devices.contains { $0.info.kind == .cpu && $0.info.platform.contains("Portable Computing Language") })
    }

    @Test func selectsByIndexTypeAndNameSubstring() throws {
        let devices = try Devices.all()
        let first = devices[0].info
        #expect(try Devices.select("0").info == first)
        #expect(try Devices.select(first.kind.rawValue).info.kind == first.kind)
        let fragment = String(first.name.prefix(6)).uppercased()
        #expect(try Devices.select(fragment).info.name.uppercased().contains(fragment))
    }

    @Test func environmentVariableSelectsWhenNoFlagIsGiven() throws {
        let devices = try Devices.all()
        let last = devices[devices.count - 1].info
        let chosen = try Devices.select(nil, environment: ["STEPLAB_DEVICE": String(last.index)])
        #expect(chosen.info == last)
        // An explicit selector wins over the environment.
        #expect(try Devices.select("0", environment: ["STEPLAB_DEVICE": "no-such-device"]).info == devices[0].info)
    }

    @Test func defaultPrefersAGPU() throws {
        let devices = try Devices.all()
        let expected = devices.first { $0.info.kind == .gpu } ?? devices[0]
        #expect(try Devices.select(nil, environment: [:]).info == expected.info)
    }

    @Test func unknownSelectorListsAvailableDevicesOnOneLine() throws {
        let devices = try Devices.all()
        for selector in ["no-such-device-xyz", "99"] {
            let error = #expect(throws: OpenCLError.self) { try Devices.select(selector) }
            let message = error?.description ?? ""
            #expect(message.contains("'\(selector)'"))
            #expect(message.contains(devices[0].info.name))
            #expect(!message.contains("\n"))
        }
    }

    @Test func statusNamesCoverTheHeaders() {
        #expect(OpenCLStatusNames.describe(-54) == "CL_INVALID_WORK_GROUP_SIZE (-54)")
        #expect(OpenCLStatusNames.describe(-1001) == "CL_PLATFORM_NOT_FOUND_KHR (-1001)")
        #expect(OpenCLStatusNames.describe(-12345) == "unknown OpenCL status (-12345)")
        // Every core code from CL_DEVICE_NOT_FOUND (-1) to CL_MAX_SIZE_RESTRICTION_EXCEEDED (-72), except the
        // unassigned gap -20...-29, has a name.
        for code in Int32(-72)...(-1) where !(-29...(-20)).contains(code) {
            #expect(OpenCLStatusNames.table[code] != nil, "missing name for \(code)")
        }
        #expect(OpenCLError.call("clFoo", status: -54).description == "clFoo failed: CL_INVALID_WORK_GROUP_SIZE (-54)")
    }
}
