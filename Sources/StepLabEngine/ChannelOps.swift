import OpenCLKit

/// Channel slices of NHWC activations (`Kernels/channels.cl`): a U-Net's skip concatenation, with the nearest-
/// neighbour upsampling of the path from below fused into the same copy, and the adjoint that splits the gradient.
extension Engine {
    /// Writes `source` (`(N * H/upsample * W/upsample) x Cs`) into columns `column ..< column + Cs` of `destination`
    /// (`(N * H * W) x Cd`), each source pixel filling an `upsample x upsample` block.
    public func placeChannels(_ source: Tensor, into destination: Tensor, column: Int, height: Int, width: Int,
                              upsample: Int = 1) throws(OpenCLError) {
        try checkSlice(source, destination, column: column, height: height, width: width, upsample: upsample)
        try launch("channels.cl", "channels_place", global: [source.columns, destination.rows], Int32(height), Int32(width),
                   Int32(upsample), Int32(source.columns), Int32(destination.columns), Int32(column),
                   source.storage, source.kernelOffset, destination.storage, destination.kernelOffset)
    }

    /// The adjoint of `placeChannels`: each pixel of `source` receives the sum of its block of the slice of
    /// `destination`, written or added to (`accumulate`).
    public func gatherChannels(_ destination: Tensor, column: Int, height: Int, width: Int, upsample: Int = 1,
                               accumulate: Bool = false, into source: Tensor) throws(OpenCLError) {
        try checkSlice(source, destination, column: column, height: height, width: width, upsample: upsample)
        try launch("channels.cl", "channels_gather", global: [source.columns, source.rows], Int32(height), Int32(width),
                   Int32(upsample), Int32(source.columns), Int32(destination.columns), Int32(column), Int32(accumulate ? 1 : 0),
                   destination.storage, destination.kernelOffset, source.storage, source.kernelOffset)
    }

    private func checkSlice(_ source: Tensor, _ destination: Tensor, column: Int, height: Int, width: Int,
                            upsample: Int) throws(OpenCLError) {
        guard upsample > 0, height % upsample == 0, width % upsample == 0, destination.rows % (height * width) == 0,
              source.rows * upsample * upsample == destination.rows, column >= 0, column + source.columns <= destination.columns else {
            throw .invalidRequest("channel slice: \(source.rows)x\(source.columns) upsampled \(upsample)x does not fit columns "
                                  + "\(column)... of \(destination.rows)x\(destination.columns) at \(height)x\(width)")
        }
    }
}

extension Reference {
    /// `Engine.placeChannels` in float64 (the destination's other columns are left as given).
    public static func placeChannels(_ source: [Double], channels cs: Int, into destination: inout [Double], channels cd: Int,
                                     column: Int, height: Int, width: Int, upsample: Int) {
        for r in 0 ..< destination.count / cd {
            let (n, y, x) = (r / (height * width), r / width % height, r % width)
            let s = (n * (height / upsample) + y / upsample) * (width / upsample) + x / upsample
            for j in 0 ..< cs { destination[r * cd + column + j] = source[s * cs + j] }
        }
    }

    /// `Engine.gatherChannels` in float64 (written, not accumulated).
    public static func gatherChannels(_ destination: [Double], channels cd: Int, column: Int, channels cs: Int,
                                      height: Int, width: Int, upsample: Int) -> [Double] {
        let pixels = destination.count / cd
        var source = [Double](repeating: 0, count: pixels / (upsample * upsample) * cs)
        for r in 0 ..< pixels {
            let (n, y, x) = (r / (height * width), r / width % height, r % width)
            let s = (n * (height / upsample) + y / upsample) * (width / upsample) + x / upsample
            for j in 0 ..< cs { source[s * cs + j] += destination[r * cd + column + j] }
        }
        return source
    }
}
