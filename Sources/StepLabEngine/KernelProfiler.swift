import Foundation
import OpenCLKit

/// Per-kernel device time from queue profiling events, for finding where a step spends its time.
/// Only active on an engine whose context was made with `profiling: true`.
public final class KernelProfiler {
    private var pending: [(String, Event)] = []

    /// Whether launches of one kernel over different global sizes or build options are reported apart.
    public let bySize: Bool

    public init(bySize: Bool = false) { self.bySize = bySize }
    private var totals: [String: (seconds: Double, launches: Int)] = [:]

    func record(_ name: String, global: [Int], options: String, _ event: Event?) {
        guard let event else { return }
        var key = name
        if bySize {
            key += " \(global.map(String.init).joined(separator: "x"))"
            // "-D TRANS_A=1 -D EPI=2" reads "TRANS_A=1 EPI=2": which variant of a kernel ran.
            let defines = options.replacingOccurrences(of: "-D ", with: "")
            if !defines.isEmpty { key += " [\(defines)]" }
        }
        pending.append((key, event))
        if pending.count >= 4096 { flush() }
    }

    private func flush() {
        for (name, event) in pending {
            let seconds = (try? event.duration()) ?? 0
            totals[name, default: (0, 0)].seconds += seconds
            totals[name, default: (0, 0)].launches += 1
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Kernel name, total device seconds and launch count, slowest first (waits for pending work).
    public func report() -> [(kernel: String, seconds: Double, launches: Int)] {
        flush()
        return totals.map { ($0.key, $0.value.seconds, $0.value.launches) }.sorted { $0.seconds > $1.seconds }
    }

    /// The report per step as text: a line with the wall and device time of a step (`wallSeconds` over `steps`) and
    /// its launches, then one line per kernel, slowest first (at most `limit`).
    public func table(steps: Int, wallSeconds: Double, limit: Int = .max) -> String {
        let rows = report(), steps = Swift.max(1, steps)
        let device = rows.reduce(0) { $0 + $1.seconds } / Double(steps)
        var lines = [String(format: "per step: wall %.2f ms, device %.2f ms over %d launches", wallSeconds / Double(steps) * 1e3,
                            device * 1e3, rows.reduce(0) { $0 + $1.launches } / steps)]
        for row in rows.prefix(limit) {
            // Padded here: Foundation on Linux ignores the width of a %@ field.
            let name = row.kernel.count < 34 ? row.kernel + String(repeating: " ", count: 34 - row.kernel.count) : row.kernel
            lines.append("  " + name + String(format: " %8.3f ms  %4d launches/step", row.seconds / Double(steps) * 1e3, row.launches / steps))
        }
        return lines.joined(separator: "\n")
    }
}
