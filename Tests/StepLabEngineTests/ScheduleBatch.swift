import StepLabTestSupport
import OpenCLKit
@testable import StepLabEngine

/// Test inputs for the per-row schedule ops: rows with t in [0.1, 1) and s < t - 0.05, so that inverse
/// DDIM's denominator sin((t - s) k) / sigma_t is at least sin(0.05 k) = 0.078.
struct ScheduleBatch {
    let rows: Int, columns: Int
    let t: [Float], s: [Float], x: [Float], eps: [Float], xhat: [Float], xVar: [Float]
    /// alpha_t x + sigma_t eps, from the reference.
    let zt: [Float]

    init(rows: Int, columns: Int, seed: UInt64) {
        var random = TestRandom(seed: seed)
        self.rows = rows
        self.columns = columns
        t = random.array(rows, 0.1, 1)
        s = t.map { $0 - 0.05 - (($0 - 0.05) * 0.999) * random.uniform(0, 1) }
        x = random.array(rows * columns, -1.5, 1.5)
        eps = random.array(rows * columns, -2, 2)
        xhat = x.map { $0 + 0.3 * random.uniform() }
        xVar = random.array(rows, 0, 0.5)
        zt = Reference.addNoise(x, eps, t: t, columns: columns)
    }

    /// The same batch on the device.
    struct Tensors {
        let t, s, xVar, x, eps, xhat, zt: Tensor
    }

    func upload(_ engine: Engine) throws(OpenCLError) -> Tensors {
        try Tensors(t: column(engine, t), s: column(engine, s), xVar: column(engine, xVar), x: matrix(engine, x),
                    eps: matrix(engine, eps), xhat: matrix(engine, xhat), zt: matrix(engine, zt))
    }

    /// A new rows x columns tensor, holding `values` when given.
    func matrix(_ engine: Engine, _ values: [Float]? = nil) throws(OpenCLError) -> Tensor {
        guard let values else { return try engine.tensor(rows: rows, columns: columns) }
        return try engine.tensor(values, rows: rows, columns: columns)
    }

    func column(_ engine: Engine, _ values: [Float]) throws(OpenCLError) -> Tensor {
        try engine.tensor(values, rows: rows, columns: 1)
    }
}
