import Foundation

/// OpenBLAS's `cblas_sgemm`, loaded at run time when the library is installed (`libopenblas-dev` or
/// `libopenblas0`), so `bench` can print the machine's practical peak beside StepLab's figure without
/// making OpenBLAS a build dependency.
struct OpenBLAS {
    typealias SGEMM = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
                                      UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    let sgemm: SGEMM
    let path: String

    static func load() -> OpenBLAS? {
        for path in ["libopenblas.so.0", "libopenblas.so", "libcblas.so.3"] {
            guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL), let symbol = dlsym(handle, "cblas_sgemm") else { continue }
            return OpenBLAS(sgemm: unsafeBitCast(symbol, to: SGEMM.self), path: path)
        }
        return nil
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
