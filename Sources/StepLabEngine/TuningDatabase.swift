import Foundation
import OpenCLKit
import StepLabKernels

/// Matmul tunings measured per device (CLBlast's habit): `bench tune` searches the tunables on a device and
/// records the best in `Kernels/tuning.json`, which is embedded in the binary. An engine uses the entry whose
/// device name, platform and driver match its device, and the per-type defaults otherwise; `STEPLAB_MATMUL`
/// overrides both.
public struct TuningDatabase: Codable, Sendable, Equatable {
    /// One device's best tuning and what it measured.
    public struct Entry: Codable, Sendable, Equatable {
        public var device: String
        public var platform: String
        public var driver: String
        public var matmul: MatmulTuning
        /// Geometric-mean GFLOP/s of the tuned shapes with this tuning, and with the defaults, when recorded.
        public var gflops: Double
        public var defaultGflops: Double
        public var date: String

        public init(device: DeviceInfo, matmul: MatmulTuning, gflops: Double, defaultGflops: Double, date: String) {
            self.device = device.name; platform = device.platform; driver = device.driverVersion
            self.matmul = matmul; self.gflops = gflops; self.defaultGflops = defaultGflops; self.date = date
        }

        /// Device name, platform and driver: what makes a recorded tuning apply.
        var identity: [String] { [device, platform, driver] }

        func matches(_ info: DeviceInfo) -> Bool { identity == [info.name, info.platform, info.driverVersion] }
    }

    public var format = "steplab-tuning-1"
    public var devices: [Entry] = []

    public init(devices: [Entry] = []) { self.devices = devices }

    /// Parses a database; a file StepLab cannot read is an error naming `source`.
    public static func decode(_ data: Data, source: String) throws(OpenCLError) -> TuningDatabase {
        do {
            let database = try JSONDecoder().decode(TuningDatabase.self, from: data)
            guard database.format == "steplab-tuning-1" else { throw OpenCLError.invalidRequest("format \(database.format)") }
            return database
        } catch {
            throw .invalidRequest("\(source) is not a StepLab tuning database: \(error)")
        }
    }

    /// The database built into this binary.
    public static func embedded() throws(OpenCLError) -> TuningDatabase {
        try decode(KernelLibrary.tuningDatabase, source: "Kernels/tuning.json")
    }

    /// The recorded tuning for `device`, if any.
    public func tuning(for device: DeviceInfo) -> MatmulTuning? { devices.last { $0.matches(device) }?.matmul }

    /// This database with `entry` replacing any entry of the same device.
    public func recording(_ entry: Entry) -> TuningDatabase {
        var copy = self
        copy.devices.removeAll { $0.identity == entry.identity }
        copy.devices.append(entry)
        copy.devices.sort { ($0.device, $0.platform) < ($1.device, $1.platform) }
        return copy
    }

    /// Pretty, key-sorted JSON (stable diffs in the repository).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}
