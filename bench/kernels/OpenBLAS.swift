import Foundation

/// OpenBLAS's `cblas_sgemm`, loaded at run time when the library is installed (`libopenblas-dev` or
/// `libopenblas0`), so `bench` can print the machine's practical peak beside StepLab's figure without
/// making OpenBLAS a build dependency.
struct OpenBLAS {
    typealias SGEMM = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
                                      UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    let sgemm: SGEMM
    let path: String
    /// The kernel family OpenBLAS runs (e.g. `SkylakeX`).
    let core: String

    static func load() -> OpenBLAS? {
        pinCoreType()
        for path in ["libopenblas.so.0", "libopenblas.so"] {
            guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL), let symbol = dlsym(handle, "cblas_sgemm") else { continue }
            var core = "unknown"
            if let nameSymbol = dlsym(handle, "openblas_get_corename") {
                typealias CoreName = @convention(c) () -> UnsafePointer<CChar>?
                if let name = unsafeBitCast(nameSymbol, to: CoreName.self)() { core = String(cString: name) }
            }
            return OpenBLAS(sgemm: unsafeBitCast(symbol, to: SGEMM.self), path: path, core: core)
        }
        return nil
    }

    /// Debian's OpenBLAS 0.3.21 fails to recognise some virtualised Xeons and falls back to its `Prescott`
    /// kernels (about 4x slower here), which would understate the machine's peak. Unless the user chose a core
    /// with OPENBLAS_CORETYPE, pick it from the CPU flags before the library loads.
    static func pinCoreType() {
        guard getenv("OPENBLAS_CORETYPE") == nil,
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let set = Set(flags.split(separator: " "))
        if set.contains("avx512f") { setenv("OPENBLAS_CORETYPE", "SkylakeX", 1) }
        else if set.contains("avx2") { setenv("OPENBLAS_CORETYPE", "Haswell", 1) }
    }

    /// Row-major C = op(A) . op(B) on the host.
    func multiply(m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, a: [Float], b: [Float], c: inout [Float]) {
        let rowMajor: Int32 = 101, noTrans: Int32 = 111, trans: Int32 = 112
        let lda = Int32(transposeA ? m : k), ldb = Int32(transposeB ? k : n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    sgemm(rowMajor, transposeA ? trans : noTrans, transposeB ? trans : noTrans, Int32(m), Int32(n), Int32(k),
                          1, pa.baseAddress, lda, pb.baseAddress, ldb, 0, pc.baseAddress, Int32(n))
                }
            }
        }
    }
}
