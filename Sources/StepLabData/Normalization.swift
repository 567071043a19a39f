/// Per-dimension standardisation, `(x - mean) / std`: a trainer fits it to the data, trains on `apply(data)`
/// and writes `invert(samples)`, so samples come out in the data's own units. Codable, to be saved beside a
/// checkpoint.
public struct Normalization: Codable, Sendable, Equatable {
    /// Per-dimension mean.
    public var mean: [Float]
    /// Per-dimension standard deviation (population, 1/n); 1 for a dimension that is constant in the data, so
    /// that dimension is only shifted, never divided by zero.
    public var std: [Float]

    /// A normalisation with the given statistics (both of the data's dimension; every `std` positive).
    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count && std.allSatisfy { $0 > 0 }, "Normalization: \(mean.count) means, \(std.count) stds, all stds must be > 0")
        self.mean = mean
        self.std = std
    }

    /// The mean and std of each dimension of `points`, accumulated in Double.
    public init(fitting points: PointSet) {
        let d = points.dimension
        var sum = [Double](repeating: 0, count: d), squares = [Double](repeating: 0, count: d)
        for (k, value) in points.values.enumerated() { sum[k % d] += Double(value) }
        let n = Double(max(points.count, 1))
        let means = sum.map { $0 / n }
        for (k, value) in points.values.enumerated() {
            let centred = Double(value) - means[k % d]
            squares[k % d] += centred * centred
        }
        let stds = squares.map { ($0 / n).squareRoot() }
        self.init(mean: means.map { Float($0) }, std: stds.map { $0 > 0 && Float($0) > 0 ? Float($0) : 1 })
    }

    /// The dimension it was fitted to.
    public var dimension: Int { mean.count }

    /// `(x - mean) / std` per dimension.
    public func apply(_ points: PointSet) throws(DataError) -> PointSet {
        try map(points, "apply") { value, k in (value - mean[k]) / std[k] }
    }

    /// `x * std + mean` per dimension: the inverse of `apply`, up to rounding.
    public func invert(_ points: PointSet) throws(DataError) -> PointSet {
        try map(points, "invert") { value, k in mean[k].addingProduct(value, std[k]) }
    }

    private func map(_ points: PointSet, _ what: String, _ transform: (Float, Int) -> Float) throws(DataError) -> PointSet {
        guard points.dimension == dimension else {
            throw DataError("Normalization.\(what): points of dimension \(points.dimension), but it was fitted to dimension \(dimension)")
        }
        var result = points
        for k in result.values.indices { result.values[k] = transform(result.values[k], k % dimension) }
        return result
    }
}
