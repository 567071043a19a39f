import OpenCLKit

/// What happens to each output of a matmul before it is stored (fused, so no extra pass over C).
public enum MatmulEpilogue {
    /// C = A.B
    case none
    /// Z = A.B + bias (one value per column); C = act(Z); Z is also stored into `preActivation` when given.
    case biasActivation(bias: Tensor, activation: Activation, preActivation: Tensor?)
    /// C = (A.B) * act'(Z), elementwise with the stored pre-activation Z: the backward through an activation.
    case activationGradient(preActivation: Tensor, activation: Activation)
    /// C = A.B + bias + R: a linear layer whose output joins a residual stream R (R may be C itself).
    case biasResidual(bias: Tensor, residual: Tensor)
    /// C += A.B: accumulation into C (gradients of a parameter used more than once add up).
    case accumulate
}

/// The epilogue's operands as kernel arguments (unused ones are C, which stands in for a valid buffer).
struct EpilogueArguments {
    var bias: Tensor, pre: Tensor, gate: Tensor
    var activation = Activation.identity
    var mode = 0
    var storePre: Int32 = 0

    init(_ epilogue: MatmulEpilogue, output c: Tensor) throws(OpenCLError) {
        bias = c; pre = c; gate = c
        let n = c.columns
        switch epilogue {
        case .none:
            break
        case let .biasActivation(b, act, z):
            guard b.count == n else { throw .invalidRequest("matmul: bias of \(b.count) values for \(n) columns") }
            bias = b; activation = act; mode = 1
            if let z {
                try requireSameShape("matmul pre-activation", z, c)
                pre = z; storePre = 1
            }
        case let .activationGradient(z, act):
            try requireSameShape("matmul activation gradient", z, c)
            gate = z; activation = act; mode = 2
        case let .biasResidual(b, r):
            guard b.count == n else { throw .invalidRequest("matmul: bias of \(b.count) values for \(n) columns") }
            try requireSameShape("matmul residual", r, c)
            bias = b; gate = r; mode = 3
        case .accumulate:
            mode = 4
        }
    }
}

extension Engine {
    /// C = epilogue(op(A) . op(B)), where op transposes when asked. op(A) is M x K, op(B) is K x N, C is M x N.
    public func matmul(_ a: Tensor, transposeA: Bool = false, _ b: Tensor, transposeB: Bool = false,
                       into c: Tensor, epilogue: MatmulEpilogue = .none) throws(OpenCLError) {
        let (m, k) = transposeA ? (a.columns, a.rows) : (a.rows, a.columns)
        let (kb, n) = transposeB ? (b.columns, b.rows) : (b.rows, b.columns)
        guard k == kb, c.rows == m, c.columns == n else {
            throw .invalidRequest("matmul: op(A) \(m)x\(k) . op(B) \(kb)x\(n) cannot fill C \(c.rows)x\(c.columns)")
        }
        let e = try EpilogueArguments(epilogue, output: c)
        let (bias, pre, gate, activation, storePre) = (e.bias, e.pre, e.gate, e.activation, e.storePre)
        let tuning = matmulTuning
        let options = "-D TRANS_A=\(transposeA ? 1 : 0) -D TRANS_B=\(transposeB ? 1 : 0) -D EPI=\(e.mode) \(tuning.defines)"
        let (mI, nI, kI) = (Int32(m), Int32(n), Int32(k))

        switch tuning.variant {
        case .cpu where n <= 4 && transposeA:
            // A 32-wide panel would waste most of its FMAs and need both operands packed; see matmul_narrow.
            try launch("matmul.cl", "matmul_narrow", global: [(m + 15) / 16], options: options, mI, nI, kI,
                       a.storage, a.kernelOffset, b.storage, b.kernelOffset, c.storage, c.kernelOffset,
                       bias.storage, bias.kernelOffset, pre.storage, pre.kernelOffset, storePre,
                       gate.storage, gate.kernelOffset, activation.rawValue)
        case .cpu:
            let panels = (n + 31) / 32
            // Split long products so each work-item's share of its B panel stays in cache (see SPLITK).
            let chunkLength = tuning.splitKChunk
            let chunks = k >= 4 * Swift.max(m, n) && k >= 2 * chunkLength ? (k + chunkLength - 1) / chunkLength : 1
            let rowBlocks = (m + tuning.mr - 1) / tuning.mr
            // A transposed A's rows lie M floats apart at every k step (one cache line and often one page per load);
            // packed, they are adjacent (measured: docs/kernel-development.md).
            let packA = transposeA
            let packedBCount = panels * 32 * k, partialCount = chunks > 1 ? chunks * m * n : 0
            let packed = try scratch(count: packedBCount + partialCount + (packA ? (m + 31) / 32 * 32 * k : 0))
            try launch("matmul.cl", "pack_b", global: [k, panels], options: options,
                       kI, nI, b.storage, b.kernelOffset, packed, Int32(0))
            var (aBuffer, aOffset) = (a.storage, a.kernelOffset)
            var options = options
            if packA {
                aOffset = Int32(packedBCount + partialCount)
                // op(A)'s rows are the columns of the K x M matrix `a`: pack_b's panels, untransposed.
                try launch("matmul.cl", "pack_b", global: [k, (m + 31) / 32], options: "-D TRANS_B=0",
                           kI, mI, a.storage, a.kernelOffset, packed, aOffset)
                aBuffer = packed
                options += " -D PACK_A=1"
            }
            let band = tuning.band(rows: m, depth: chunks > 1 ? chunkLength : k)
            if chunks == 1 {
                try launch("matmul.cl", "matmul_cpu", global: [rowBlocks * panels, 1, 1], local: [1, 1, 1],
                           options: options, mI, nI, kI, kI, band, aBuffer, aOffset, packed, Int32(0), Int32(32 * k),
                           Int32(32), c.storage, c.kernelOffset, bias.storage, bias.kernelOffset, pre.storage,
                           pre.kernelOffset, storePre, gate.storage, gate.kernelOffset, activation.rawValue)
            } else {
                let partialOffset = Int32(packedBCount)
                try launch("matmul.cl", "matmul_cpu", global: [rowBlocks * panels, 1, chunks], local: [1, 1, 1],
                           options: options + " -D SPLITK=1", mI, nI, kI, Int32(chunkLength), band, aBuffer, aOffset,
                           packed, Int32(0), Int32(32 * k), Int32(32), packed, partialOffset, bias.storage,
                           bias.kernelOffset, pre.storage, pre.kernelOffset, storePre, gate.storage, gate.kernelOffset,
                           activation.rawValue)
                try launch("matmul.cl", "splitk_finish", global: [n, m], options: options, mI, nI, Int32(chunks),
                           packed, partialOffset, c.storage, c.kernelOffset,
                           bias.storage, bias.kernelOffset, pre.storage, pre.kernelOffset, storePre,
                           gate.storage, gate.kernelOffset, activation.rawValue)
            }
        case .tiled:
            let groups = [(n + tuning.tn - 1) / tuning.tn, (m + tuning.tm - 1) / tuning.tm]
            let local = tuning.tiledLocal
            try launch("matmul.cl", "matmul_tiled", global: [groups[0] * local[0], groups[1] * local[1]], local: local,
                       options: options, mI, nI, kI, a.storage, a.kernelOffset, b.storage, b.kernelOffset,
                       c.storage, c.kernelOffset, bias.storage, bias.kernelOffset, pre.storage, pre.kernelOffset,
                       storePre, gate.storage, gate.kernelOffset, activation.rawValue)
        }
    }
}

extension Reference {
    /// op(A) . op(B) in float64 accumulation, row-major, with the same epilogues as the kernel; `add` (M x N)
    /// is added after the bias (the residual and accumulate epilogues).
    public static func matmul(_ a: [Float], rows aRows: Int, columns aColumns: Int, transposeA: Bool,
                              _ b: [Float], rows bRows: Int, columns bColumns: Int, transposeB: Bool,
                              bias: [Float]? = nil, gate: [Float]? = nil, activation: Activation = .identity,
                              add: [Float]? = nil)
        -> (c: [Float], pre: [Float]) {
        let (m, k) = transposeA ? (aColumns, aRows) : (aRows, aColumns)
        let n = transposeB ? bRows : bColumns
        var c = [Float](repeating: 0, count: m * n)
        var pre = c
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let av = transposeA ? a[p * aColumns + i] : a[i * aColumns + p]
                    let bv = transposeB ? b[j * bColumns + p] : b[p * bColumns + j]
                    sum += Double(av) * Double(bv)
                }
                if let add {
                    c[i * n + j] = Float(sum + Double(bias?[j] ?? 0) + Double(add[i * n + j]))
                } else if let bias {
                    let z = sum + Double(bias[j])
                    pre[i * n + j] = Float(z)
                    c[i * n + j] = Float(activation.forward(z))
                } else if let gate {
                    c[i * n + j] = Float(sum * activation.derivative(Double(gate[i * n + j])))
                } else {
                    c[i * n + j] = Float(sum)
                }
            }
        }
        return (c, pre)
    }
}
