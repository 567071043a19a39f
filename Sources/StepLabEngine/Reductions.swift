import OpenCLKit

/// Deterministic reductions (`Kernels/reduce.cl`): fixed chunking, fixed summation order.
extension Engine {
    /// Rows summed per work-item before the partials are combined: long enough to amortise the second pass,
    /// short enough to give every core work on a 4096-row batch.
    static let rowsPerChunk = 256
    /// Elements per work-item of a flat sum.
    static let elementsPerChunk = 8192

    /// out[c] = alpha * sum_r x[r, c] (added to `out` when `accumulate`); `out` holds `x.columns` values.
    public func columnSums(_ x: Tensor, alpha: Float = 1, accumulate: Bool = false, into out: Tensor) throws(OpenCLError) {
        guard out.count == x.columns else {
            throw .invalidRequest("columnSums: \(out.count) outputs for \(x.columns) columns")
        }
        let chunks = (x.rows + Self.rowsPerChunk - 1) / Self.rowsPerChunk
        let (rI, cI) = (Int32(x.rows), Int32(x.columns))
        let add: Int32 = accumulate ? 1 : 0
        if chunks == 1 {
            try launch("reduce.cl", "column_partials", global: [(x.columns + 15) / 16, 1], rI, cI, Int32(Self.rowsPerChunk), alpha,
                       add, x.storage, x.kernelOffset, out.storage, out.kernelOffset)
            return
        }
        let partial = try scratch(count: chunks * x.columns)
        try launch("reduce.cl", "column_partials", global: [(x.columns + 15) / 16, chunks], rI, cI, Int32(Self.rowsPerChunk), alpha,
                   Int32(0), x.storage, x.kernelOffset, partial, Int32(0))
        try launch("reduce.cl", "column_finish", global: [x.columns], Int32(chunks), cI, alpha, add, partial,
                   out.storage, out.kernelOffset)
    }

    /// out[r] = alpha * sum_c x[r, c]; `out` holds `x.rows` values.
    public func rowSums(_ x: Tensor, alpha: Float = 1, into out: Tensor) throws(OpenCLError) {
        guard out.count == x.rows else { throw .invalidRequest("rowSums: \(out.count) outputs for \(x.rows) rows") }
        try launch("reduce.cl", "row_sums", global: [x.rows], Int32(x.columns), alpha, x.storage, x.kernelOffset,
                   out.storage, out.kernelOffset)
    }

    /// out[0] = alpha * sum of all elements of `x` (of their squares when `squared`).
    public func sum(_ x: Tensor, squared: Bool = false, alpha: Float = 1, into out: Tensor) throws(OpenCLError) {
        let chunks = (x.count + Self.elementsPerChunk - 1) / Self.elementsPerChunk
        let partial = try scratch(count: chunks)
        try launch("reduce.cl", "chunk_sums", global: [chunks], Int32(x.count), Int32(Self.elementsPerChunk),
                   Int32(squared ? 1 : 0), x.storage, x.kernelOffset, partial)
        try launch("reduce.cl", "chunk_finish", global: [1], Int32(chunks), alpha, partial, out.storage, out.kernelOffset)
    }
}

extension Reference {
    public static func columnSums(_ x: [Float], rows: Int, columns: Int, alpha: Float = 1) -> [Float] {
        (0..<columns).map { c in alpha * Float((0..<rows).reduce(0.0) { $0 + Double(x[$1 * columns + c]) }) }
    }
    public static func rowSums(_ x: [Float], rows: Int, columns: Int, alpha: Float = 1) -> [Float] {
        (0..<rows).map { r in alpha * Float((0..<columns).reduce(0.0) { $0 + Double(x[r * columns + $1]) }) }
    }
    public static func sum(_ x: [Float], squared: Bool = false, alpha: Float = 1) -> Float {
        alpha * Float(x.reduce(0.0) { $0 + (squared ? Double($1) * Double($1) : Double($1)) })
    }
}
