import OpenCLKit

/// Element-by-element ops (`Kernels/elementwise.cl`). Each has a plain-Swift twin in `Reference`.
extension Engine {
    /// Sets every element of `y` to `value`.
    public func fill(_ y: Tensor, _ value: Float) throws(OpenCLError) {
        try launch("elementwise.cl", "fill_f32", global: [y.count], y.storage, y.kernelOffset, value)
    }

    /// y = a * x.
    public func scale(_ a: Float, _ x: Tensor, into y: Tensor) throws(OpenCLError) {
        try requireSameShape("scale", x, y)
        try launch("elementwise.cl", "scale_f32", global: [y.count], a, x.storage, x.kernelOffset, y.storage, y.kernelOffset)
    }

    /// y += a * x.
    public func axpy(_ a: Float, _ x: Tensor, _ y: Tensor) throws(OpenCLError) {
        try requireSameShape("axpy", x, y)
        try launch("elementwise.cl", "axpy_f32", global: [y.count], a, x.storage, x.kernelOffset, y.storage, y.kernelOffset)
    }

    /// z = a * x + b * y.
    public func axpby(_ a: Float, _ x: Tensor, _ b: Float, _ y: Tensor, into z: Tensor) throws(OpenCLError) {
        try requireSameShape("axpby", x, y, z)
        try launch("elementwise.cl", "axpby_f32", global: [z.count], a, x.storage, x.kernelOffset,
                   b, y.storage, y.kernelOffset, z.storage, z.kernelOffset)
    }

    /// z = x * y, elementwise.
    public func multiply(_ x: Tensor, _ y: Tensor, into z: Tensor) throws(OpenCLError) {
        try requireSameShape("multiply", x, y, z)
        try launch("elementwise.cl", "mul_f32", global: [z.count], x.storage, x.kernelOffset,
                   y.storage, y.kernelOffset, z.storage, z.kernelOffset)
    }

    /// y = clamp(x, lo, hi).
    public func clamp(_ x: Tensor, _ lo: Float, _ hi: Float, into y: Tensor) throws(OpenCLError) {
        try requireSameShape("clamp", x, y)
        try launch("elementwise.cl", "clamp_f32", global: [y.count], x.storage, x.kernelOffset, lo, hi,
                   y.storage, y.kernelOffset)
    }
}

extension Engine {
    /// y[r, c] = (x[r, c] - shift[c]) * scale[c]; `shift` and `scale` hold one value per column. y may be x.
    public func columnAffine(_ x: Tensor, shift: Buffer<Float>, scale: Buffer<Float>, into y: Tensor) throws(OpenCLError) {
        try requireSameShape("columnAffine", x, y)
        guard shift.count == x.columns, scale.count == x.columns else {
            throw .invalidRequest("columnAffine: \(x.columns) columns need as many shifts and scales")
        }
        try launch("elementwise.cl", "column_affine", global: [x.columns, x.rows], Int32(x.columns), x.storage, x.kernelOffset,
                   shift, scale, y.storage, y.kernelOffset)
    }
}

extension Reference {
    public static func scale(_ a: Float, _ x: [Float]) -> [Float] { x.map { a * $0 } }
    public static func axpy(_ a: Float, _ x: [Float], _ y: [Float]) -> [Float] { zip(x, y).map { $1.addingProduct(a, $0) } }
    public static func axpby(_ a: Float, _ x: [Float], _ b: Float, _ y: [Float]) -> [Float] { zip(x, y).map { a * $0 + b * $1 } }
    public static func multiply(_ x: [Float], _ y: [Float]) -> [Float] { zip(x, y).map { $0 * $1 } }
    public static func columnAffine(_ x: [Float], columns: Int, shift: [Float], scale: [Float]) -> [Float] {
        x.enumerated().map { ($0.element - shift[$0.offset % columns]) * scale[$0.offset % columns] }
    }
    public static func clamp(_ x: [Float], _ lo: Float, _ hi: Float) -> [Float] { x.map { Swift.min(Swift.max($0, lo), hi) } }
}
