import Foundation
import OpenCLKit

/// Which matmul kernel runs, with its tunables (`-D` values of `Kernels/matmul.cl`), CLBlast-style: defaults
/// per device type, overridable per device.
public struct MatmulTuning: Sendable, Equatable, Codable {
    public enum Variant: String, Sendable, Codable {
        /// One work-item per group, register-blocked over packed B panels (CPU OpenCL such as POCL).
        case cpu
        /// Local-memory tiles, many work-items per group (GPUs).
        case tiled
    }

    public var variant: Variant
    /// Rows per work-item of the cpu variant.
    public var mr: Int = 8
    /// K per work-item when the cpu variant splits a long product (K >= 4 max(M, N)).
    public var splitKChunk: Int = 512
    /// Cache budget of the cpu variant's band of A rows, which every B panel passes over before the next band.
    public var bandKilobytes: Int = 256
    /// Tile of C per work-group, depth of the staged slab, and outputs per work-item of the tiled variant.
    public var tm: Int = 64, tn: Int = 64, tk: Int = 16, wm: Int = 4, wn: Int = 4

    public init(variant: Variant, mr: Int = 8, splitKChunk: Int = 512, bandKilobytes: Int = 256, tm: Int = 64, tn: Int = 64,
                tk: Int = 16, wm: Int = 4, wn: Int = 4) {
        self.variant = variant
        self.mr = mr
        self.splitKChunk = splitKChunk
        self.bandKilobytes = bandKilobytes
        self.tm = tm; self.tn = tn; self.tk = tk; self.wm = wm; self.wn = wn
    }

    /// The default for a device: the register-blocked kernel on CPUs, local-memory tiles elsewhere.
    public static func defaults(for device: DeviceInfo) -> MatmulTuning {
        switch device.kind {
        case .cpu: return MatmulTuning(variant: .cpu)
        case .gpu, .accelerator, .other:
            // 16 x 16 work-items need a 256-wide group; shrink for devices that allow less.
            if device.maxWorkGroupSize >= 256 { return MatmulTuning(variant: .tiled) }
            return MatmulTuning(variant: .tiled, tm: 32, tn: 32, tk: 16, wm: 4, wn: 4)
        }
    }

    /// `base` with the overrides in `spec`, a comma-separated list such as `variant=tiled,tm=32,wn=2` (the
    /// format of the `STEPLAB_MATMUL` environment variable, for tuning experiments).
    public static func parse(_ spec: String, base: MatmulTuning) throws(OpenCLError) -> MatmulTuning {
        var tuning = base
        for item in spec.split(separator: ",") where !item.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw .invalidRequest("STEPLAB_MATMUL: expected key=value, got '\(item)'") }
            if parts[0] == "variant" {
                guard let variant = Variant(rawValue: parts[1]) else {
                    throw .invalidRequest("STEPLAB_MATMUL: variant must be cpu or tiled, got '\(parts[1])'")
                }
                tuning.variant = variant
                continue
            }
            guard let value = Int(parts[1]), value > 0 else {
                throw .invalidRequest("STEPLAB_MATMUL: \(parts[0]) needs a positive integer, got '\(parts[1])'")
            }
            switch parts[0] {
            case "mr": tuning.mr = value
            case "kc": tuning.splitKChunk = value
            case "band": tuning.bandKilobytes = value
            case "tm": tuning.tm = value
            case "tn": tuning.tn = value
            case "tk": tuning.tk = value
            case "wm": tuning.wm = value
            case "wn": tuning.wn = value
            default: throw .invalidRequest("STEPLAB_MATMUL: unknown key '\(parts[0])' (variant, mr, kc, band, tm, tn, tk, wm, wn)")
            }
        }
        return tuning
    }

    enum CodingKeys: String, CodingKey { case variant, mr, splitKChunk, bandKilobytes, tm, tn, tk, wm, wn }

    /// Decodes a tuning database entry; tunables added after the entry was written take their defaults.
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(variant: try values.decode(Variant.self, forKey: .variant))
        mr = try values.decodeIfPresent(Int.self, forKey: .mr) ?? mr
        splitKChunk = try values.decodeIfPresent(Int.self, forKey: .splitKChunk) ?? splitKChunk
        bandKilobytes = try values.decodeIfPresent(Int.self, forKey: .bandKilobytes) ?? bandKilobytes
        tm = try values.decodeIfPresent(Int.self, forKey: .tm) ?? tm
        tn = try values.decodeIfPresent(Int.self, forKey: .tn) ?? tn
        tk = try values.decodeIfPresent(Int.self, forKey: .tk) ?? tk
        wm = try values.decodeIfPresent(Int.self, forKey: .wm) ?? wm
        wn = try values.decodeIfPresent(Int.self, forKey: .wn) ?? wn
    }

    /// Work-items per group of the tiled variant, per dimension (n, m).
    var tiledLocal: [Int] { [tn / wn, tm / wm] }

    /// Checks the tunables are consistent before any kernel is built with them.
    public func validate(_ device: DeviceInfo) throws(OpenCLError) {
        switch variant {
        case .cpu:
            guard (1...16).contains(mr), splitKChunk > 0, bandKilobytes > 0 else {
                throw .invalidRequest("matmul tuning: mr \(mr) must be 1...16, kc \(splitKChunk) and band \(bandKilobytes) positive")
            }
        case .tiled:
            guard tm % wm == 0, tn % wn == 0, tk > 0, tiledLocal.reduce(1, *) <= device.maxWorkGroupSize else {
                throw .invalidRequest("matmul tuning: tm \(tm)/wm \(wm), tn \(tn)/wn \(wn) must divide and give at most "
                                      + "\(device.maxWorkGroupSize) work-items per group")
            }
        }
    }

    /// Row blocks per band of the CPU panel kernels (matmul.cl's band_block): as many as keep the band's A rows,
    /// MR x `depth` floats each (depth: the K a work-item walks), within the tuned cache budget.
    func band(rows: Int, depth: Int) -> Int32 {
        Int32(Swift.max(1, Swift.min((rows + mr - 1) / mr, bandKilobytes * 1024 / (4 * mr * depth))))
    }

    /// The tunable part of the build options.
    var defines: String {
        switch variant {
        case .cpu: "-D MR=\(mr)"
        case .tiled: "-D TM=\(tm) -D TN=\(tn) -D TK=\(tk) -D WM=\(wm) -D WN=\(wn)"
        }
    }
}
