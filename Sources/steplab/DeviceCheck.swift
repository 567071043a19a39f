import OpenCLKit
import StepLabEngine

/// A quick proof that a device computes correctly: kernels built from the embedded sources, run, and
/// compared with the CPU reference.
enum DeviceCheck {
    /// Runs the checks on `engine`; returns one line per check, throws on a mismatch.
    static func run(_ engine: Engine) throws -> [String] {
        var lines: [String] = []
        let n = 1 << 20
        let x = (0 ..< n).map { Float($0 % 1024) }, y = (0 ..< n).map { Float(($0 * 7) % 512) * 0.5 }
        let tx = try engine.tensor(x, rows: 1, columns: n), ty = try engine.tensor(y, rows: 1, columns: n)
        try engine.axpy(2, tx, ty)
        guard try ty.download() == Reference.axpy(2, x, y) else { throw CLIError("device check failed: axpy result differs") }
        lines.append("axpy on \(n) elements: exact")

        let (m, k, cols) = (257, 65, 129)
        var random = HostRandom(seed: 7)
        let a = (0 ..< m * k).map { _ in random.uniform(-1, 1) }, b = (0 ..< k * cols).map { _ in random.uniform(-1, 1) }
        let ta = try engine.tensor(a, rows: m, columns: k), tb = try engine.tensor(b, rows: k, columns: cols)
        let tc = try engine.tensor(rows: m, columns: cols)
        try engine.matmul(ta, tb, into: tc)
        let expected = Reference.matmul(a, rows: m, columns: k, transposeA: false, b, rows: k, columns: cols, transposeB: false).c
        let got = try tc.download()
        let worst = zip(got, expected).map { abs($0 - $1) / (1e-4 + abs($1)) }.max() ?? .infinity
        guard worst < 1e-2, got.allSatisfy(\.isFinite) else {
            throw CLIError("device check failed: matmul \(m)x\(cols)x\(k) relative error \(worst)")
        }
        lines.append("matmul \(m)x\(cols)x\(k) (\(engine.matmulTuning.variant) variant): max relative error \(worst)")
        return lines
    }
}
