import OpenCLKit
import StepLabKernels
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// The float paths `schedule.cl` takes on devices without `cl_khr_fp64`, forced here by undefining the
/// extension macro in front of the source, so that they are tested on POCL too.
@Suite struct ScheduleFallbackTests {
    static func floatOnlyProgram(_ engine: Engine) throws -> Program {
        try engine.context.program(source: "#undef cl_khr_fp64\n" + KernelLibrary.source("schedule.cl"),
                                   options: "", name: "schedule.cl (float only)")
    }

    /// Tolerances as in `ScheduleOpsTests.rowOpsMatchTheirReferences` and `TimeEmbeddingTests`.
    @Test(arguments: ElementwiseTests.sizes)
    func floatPathsMatchTheirReferences(count: Int) throws {
        let b = ScheduleBatch(rows: count, columns: 3, seed: UInt64(count))
        let zs = Reference.ddimStep(xhat: b.xhat, zt: b.zt, t: b.t, s: b.s, columns: 3)
        try SharedEngine.withEngine { engine in
            let program = try Self.floatOnlyProgram(engine)
            let d = try b.upload(engine), zsTensor = try b.matrix(engine, zs), x = try b.matrix(engine)
            let t = d.t, emb = try engine.tensor(rows: count, columns: 16)

            try engine.context.queue.launch(program.kernel("inverse_ddim_f32"), global: [x.count], arguments: [
                d.t.storage, d.t.kernelOffset, d.s.storage, d.s.kernelOffset, zsTensor.storage, zsTensor.kernelOffset,
                d.zt.storage, d.zt.kernelOffset, x.storage, x.kernelOffset, Int32(3)])
            expectClose(try x.download(), Reference.inverseDDIM(zs: zs, zt: b.zt, t: b.t, s: b.s, columns: 3),
                        rtol: 3e-5, atol: 3e-5, "inverseDDIM in float")

            try engine.context.queue.launch(program.kernel("network_input_f32"), global: [emb.rows], arguments: [
                emb.storage, emb.kernelOffset, Int32(0), t.storage, t.kernelOffset, Int32(8), Float(1000), emb.storage, emb.kernelOffset])
            expectClose(try emb.download(), Reference.timeEmbedding(b.t, frequencies: 8), rtol: 0, atol: 5e-4, "embedding in float")
        }
    }
}
