import OpenCLKit

/// A dense row-major float32 matrix living on the device: a view of `rows x columns` elements starting at
/// `offset` inside `storage`. Several tensors may share one storage (all parameters of a model live in one
/// flat buffer so that the optimizer updates them in one launch).
///
/// Kernels receive a tensor as two arguments, the buffer and the element offset (`__global float *x,
/// const int x_off`).
public struct Tensor {
    public let storage: Buffer<Float>
    public let offset: Int
    public let rows: Int
    public let columns: Int

    /// Elements in the view.
    public var count: Int { rows * columns }

    /// A view into `storage`; the range must fit.
    public init(storage: Buffer<Float>, offset: Int = 0, rows: Int, columns: Int) throws(OpenCLError) {
        guard rows > 0, columns > 0, offset >= 0, offset + rows * columns <= storage.count else {
            throw .invalidRequest("tensor view \(rows)x\(columns) at offset \(offset) does not fit a buffer of \(storage.count)")
        }
        self.storage = storage
        self.offset = offset
        self.rows = rows
        self.columns = columns
    }

    /// Reads the view back to the host, row-major.
    public func download() throws(OpenCLError) -> [Float] {
        try storage.download(offset: offset, length: count)
    }

    /// Writes `values` (row-major, exactly `count` of them) into the view.
    public func upload(_ values: [Float]) throws(OpenCLError) {
        guard values.count == count else {
            throw .invalidRequest("upload of \(values.count) values into a \(rows)x\(columns) tensor")
        }
        try storage.upload(values, offset: offset)
    }

    /// The same elements seen as `rows x columns` (the element count must match).
    public func reshaped(rows: Int, columns: Int) throws(OpenCLError) -> Tensor {
        guard rows * columns == count else {
            throw .invalidRequest("cannot reshape \(self.rows)x\(self.columns) to \(rows)x\(columns)")
        }
        return try Tensor(storage: storage, offset: offset, rows: rows, columns: columns)
    }

    /// Rows `start ..< start + count` of this tensor.
    public func rows(_ start: Int, count: Int) throws(OpenCLError) -> Tensor {
        guard start >= 0, count > 0, start + count <= rows else {
            throw .invalidRequest("rows \(start)..<\(start + count) outside a tensor of \(rows) rows")
        }
        return try Tensor(storage: storage, offset: offset + start * columns, rows: count, columns: columns)
    }

    /// The element offset as a kernel argument.
    public var kernelOffset: Int32 { Int32(offset) }

    /// Whether both views have the same shape.
    public func sameShape(as other: Tensor) -> Bool { rows == other.rows && columns == other.columns }
}

extension Engine {
    /// A new tensor with its own storage, uninitialised.
    public func tensor(rows: Int, columns: Int) throws(OpenCLError) -> Tensor {
        try Tensor(storage: context.buffer(Float.self, count: rows * columns), rows: rows, columns: columns)
    }

    /// A new tensor holding `values` (row-major).
    public func tensor(_ values: [Float], rows: Int, columns: Int) throws(OpenCLError) -> Tensor {
        let tensor = try self.tensor(rows: rows, columns: columns)
        try tensor.upload(values)
        return tensor
    }

    /// A new tensor filled with `value`.
    public func tensor(filled value: Float, rows: Int, columns: Int) throws(OpenCLError) -> Tensor {
        let tensor = try self.tensor(rows: rows, columns: columns)
        try fill(tensor, value)
        return tensor
    }
}

/// Throws unless the shapes agree; `op` names the operation in the message.
public func requireSameShape(_ op: String, _ tensors: Tensor...) throws(OpenCLError) {
    guard let first = tensors.first else { return }
    for tensor in tensors.dropFirst() where !tensor.sameShape(as: first) {
        throw .invalidRequest("\(op): shape \(tensor.rows)x\(tensor.columns) does not match \(first.rows)x\(first.columns)")
    }
}
