/// `count` points of dimension `dimension`, row-major: point `i` is `values[i * dimension ..< (i + 1) * dimension]`.
/// What the data files load into, the metrics compare and the toy sets produce on the host.
public struct PointSet: Sendable, Equatable {
    /// Number of points (rows).
    public var count: Int
    /// Coordinates per point (columns).
    public var dimension: Int
    /// The coordinates, row-major, `count * dimension` of them.
    public var values: [Float]

    /// Points from row-major `values`; their number must be `count * dimension`.
    public init(count: Int, dimension: Int, values: [Float]) {
        precondition(count >= 0 && dimension >= 1 && values.count == count * dimension,
                     "PointSet: \(values.count) values do not make \(count) points of dimension \(dimension)")
        self.count = count
        self.dimension = dimension
        self.values = values
    }

    /// The coordinates of point `i`.
    public subscript(point i: Int) -> ArraySlice<Float> {
        values[i * dimension ..< (i + 1) * dimension]
    }
}
