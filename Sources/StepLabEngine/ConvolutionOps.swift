import OpenCLKit

/// The data movement of a convolution as a product (`Kernels/conv.cl`): `im2col` lays each output pixel's
/// receptive field out as a row, so `cols . W` is the convolution and `cols^T . dy` its weight gradient; `col2im`
/// is its adjoint, which turns `dy . W^T` into the input gradient.
extension Engine {
    /// Writes the patches of `samples` images into `cols` ((samples * Ho * Wo) x patchSize). Each image is the first
    /// H * W * Cin values of its sample's share of `x` (`x.count / samples` values: NHWC activations, or a network
    /// input whose rows carry more columns after the image).
    public func im2col(_ x: Tensor, samples: Int, geometry g: ConvolutionGeometry, into cols: Tensor) throws(OpenCLError) {
        let stride = try imageStride(x, samples: samples, geometry: g)
        let rows = samples * g.outputHeight * g.outputWidth
        guard cols.rows == rows, cols.columns == g.patchSize else {
            throw .invalidRequest("im2col: patches are \(rows)x\(g.patchSize), not \(cols.rows)x\(cols.columns)")
        }
        try launch("conv.cl", "im2col", global: [g.kernel * g.kernel, rows], Int32(g.height), Int32(g.width), Int32(g.inputChannels),
                   Int32(stride), Int32(g.kernel), Int32(g.stride), Int32(g.padding), Int32(g.outputHeight), Int32(g.outputWidth),
                   x.storage, x.kernelOffset, cols.storage, cols.kernelOffset)
    }

    /// The adjoint of `im2col` into NHWC activations `dx` ((samples * H * W) x Cin): written, or added to when
    /// `accumulate`.
    public func col2im(_ dcols: Tensor, geometry g: ConvolutionGeometry, accumulate: Bool = false, into dx: Tensor) throws(OpenCLError) {
        try g.validate()
        let pixels = g.height * g.width
        guard dx.columns == g.inputChannels, dx.rows % pixels == 0,
              dcols.rows == dx.rows / pixels * g.outputHeight * g.outputWidth, dcols.columns == g.patchSize else {
            throw .invalidRequest("col2im: \(dcols.rows)x\(dcols.columns) patches do not match \(dx.rows)x\(dx.columns) activations of \(g)")
        }
        try launch("conv.cl", "col2im", global: [dx.rows], Int32(g.height), Int32(g.width), Int32(g.inputChannels), Int32(g.kernel),
                   Int32(g.stride), Int32(g.padding), Int32(g.outputHeight), Int32(g.outputWidth), Int32(accumulate ? 1 : 0),
                   dcols.storage, dcols.kernelOffset, dx.storage, dx.kernelOffset)
    }
}

/// The implicit products of the CPU variant (`Kernels/conv.cl`'s conv_cpu and packs): the patches are read in place
/// and never stored. Other variants run the convolution as `im2col` and a product (`Conv2d` picks).
extension Engine {
    /// Whether the implicit products serve this engine (the CPU matmul variant).
    public var convolvesInPlace: Bool { matmulTuning.variant == .cpu }

    /// y = epilogue(patches(x) . W) for `samples` images in `x` (as `im2col` reads them); W is patchSize x Cout.
    public func convolve(_ x: Tensor, samples: Int, geometry g: ConvolutionGeometry, weight: Tensor, into y: Tensor,
                         epilogue: MatmulEpilogue) throws(OpenCLError) {
        let stride = try imageStride(x, samples: samples, geometry: g)
        guard weight.rows == g.patchSize, weight.columns == g.outputChannels,
              y.rows == samples * g.outputHeight * g.outputWidth, y.columns == g.outputChannels else {
            throw .invalidRequest("convolve \(g): weight \(weight.rows)x\(weight.columns) or output \(y.rows)x\(y.columns) does not fit")
        }
        let panels = (g.outputChannels + 31) / 32
        let packed = try scratch(count: panels * 32 * g.patchSize)
        try launch("matmul.cl", "pack_b", global: [g.patchSize, panels], options: "-D TRANS_B=0", Int32(g.patchSize),
                   Int32(g.outputChannels), weight.storage, weight.kernelOffset, packed, Int32(0))
        try launchConv(x, stride: stride, geometry: g, panels: packed, into: y, epilogue: epilogue)
    }

    /// dL/dx of a stride-1 convolution from dL/dy, as the transposed convolution of dy (conv_cpu with the flipped
    /// weight): written to `dx` ((samples * H * W) x Cin), or added to it when `accumulate`.
    public func convolveTransposed(_ dy: Tensor, geometry g: ConvolutionGeometry, weight: Tensor, accumulate: Bool,
                                   into dx: Tensor) throws(OpenCLError) {
        guard g.stride == 1 else { throw .invalidRequest("convolveTransposed: stride \(g.stride); use col2im") }
        let transposed = ConvolutionGeometry(height: g.height, width: g.width, inputChannels: g.outputChannels,
                                             outputChannels: g.inputChannels, kernel: g.kernel)
        let samples = dy.rows / Swift.max(1, g.outputHeight * g.outputWidth)
        guard dy.columns == g.outputChannels, dx.rows == samples * g.height * g.width, dx.columns == g.inputChannels,
              weight.rows == g.patchSize, weight.columns == g.outputChannels else {
            throw .invalidRequest("convolveTransposed \(g): dy \(dy.rows)x\(dy.columns) or dx \(dx.rows)x\(dx.columns) does not fit")
        }
        let panels = (g.inputChannels + 31) / 32
        let packed = try scratch(count: panels * 32 * transposed.patchSize)
        try launch("conv.cl", "pack_flipped_weight", global: [transposed.patchSize, panels], Int32(g.kernel * g.kernel),
                   Int32(g.inputChannels), Int32(g.outputChannels), weight.storage, weight.kernelOffset, packed, Int32(0))
        // With padding K / 2 on both sides the transposed convolution's padding K - 1 - K / 2 is K / 2 again.
        try launchConv(dy, stride: dy.count / samples, geometry: transposed, panels: packed, into: dx,
                       epilogue: accumulate ? .accumulate : .none)
    }

    /// Whether `convolutionWeightGradient` serves this geometry (the CPU variant, input channels a multiple of 32).
    public func packsPatches(_ g: ConvolutionGeometry) -> Bool { convolvesInPlace && g.inputChannels % 32 == 0 }

    /// dW += patches(x)^T . dy on the CPU panel kernel, the patches packed straight from x (`packsPatches`).
    public func convolutionWeightGradient(_ x: Tensor, samples: Int, geometry g: ConvolutionGeometry, outputGradient dy: Tensor,
                                          accumulatingInto dw: Tensor) throws(OpenCLError) {
        let stride = try imageStride(x, samples: samples, geometry: g)
        let pixels = samples * g.outputHeight * g.outputWidth
        guard packsPatches(g), dy.rows == pixels, dy.columns == g.outputChannels, dw.rows == g.patchSize,
              dw.columns == g.outputChannels else {
            throw .invalidRequest("convolutionWeightGradient \(g): dy \(dy.rows)x\(dy.columns), dW \(dw.rows)x\(dw.columns) "
                                  + "(needs the CPU variant and channels a multiple of 32)")
        }
        try matmul(m: g.patchSize, k: pixels, packer: { buffer, offset throws(OpenCLError) in
            try self.launch("conv.cl", "pack_patches", global: [pixels, g.patchSize / 32], Int32(g.height), Int32(g.width),
                            Int32(g.inputChannels), Int32(stride), Int32(g.kernel), Int32(g.stride), Int32(g.padding),
                            Int32(g.outputHeight), Int32(g.outputWidth), Int32(pixels), x.storage, x.kernelOffset, buffer, offset)
        }, dy, into: dw, epilogue: .accumulate)
    }

    private func launchConv(_ x: Tensor, stride: Int, geometry g: ConvolutionGeometry, panels: Buffer<Float>, into y: Tensor,
                            epilogue: MatmulEpilogue) throws(OpenCLError) {
        let e = try EpilogueArguments(epilogue, output: y)
        let tuning = matmulTuning
        let (m, n) = (y.rows, g.outputChannels)
        try launch("conv.cl", "conv_cpu", global: [(m + tuning.mr - 1) / tuning.mr * ((n + 31) / 32)], local: [1],
                   options: "-D EPI=\(e.mode) \(tuning.defines)", Int32(m), Int32(n), tuning.band(rows: m, depth: g.patchSize), Int32(g.height), Int32(g.width),
                   Int32(g.inputChannels), Int32(stride), Int32(g.kernel), Int32(g.stride), Int32(g.padding), Int32(g.outputHeight),
                   Int32(g.outputWidth), x.storage, x.kernelOffset, try zeros(count: g.inputChannels), panels, Int32(0),
                   y.storage, y.kernelOffset,
                   e.bias.storage, e.bias.kernelOffset, e.pre.storage, e.pre.kernelOffset, e.storePre,
                   e.gate.storage, e.gate.kernelOffset, e.activation.rawValue)
    }

    /// Values per image in `x` (`x.count / samples`), checked to hold an image of the geometry's input.
    private func imageStride(_ x: Tensor, samples: Int, geometry g: ConvolutionGeometry) throws(OpenCLError) -> Int {
        try g.validate()
        guard samples > 0, x.count % samples == 0, x.count / samples >= g.height * g.width * g.inputChannels else {
            throw .invalidRequest("\(x.rows)x\(x.columns) does not hold \(samples) images of \(g.height)x\(g.width)x\(g.inputChannels)")
        }
        return x.count / samples
    }
}

extension Reference {
    /// A direct convolution in float64 (no im2col): `x` holds `samples` images of H x W x Cin (NHWC, each the first
    /// values of a `sampleStride`-value share), `weight` is patchSize x Cout ordered (kh, kw, cin); NHWC out.
    public static func conv2d(_ x: [Double], samples: Int, sampleStride: Int? = nil, geometry g: ConvolutionGeometry,
                              weight: [Double], bias: [Double]) -> [Double] {
        let stride = sampleStride ?? g.height * g.width * g.inputChannels
        let (ho, wo, cin, cout) = (g.outputHeight, g.outputWidth, g.inputChannels, g.outputChannels)
        var y = [Double](repeating: 0, count: samples * ho * wo * cout)
        for n in 0 ..< samples {
            for yo in 0 ..< ho {
                for xo in 0 ..< wo {
                    let out = ((n * ho + yo) * wo + xo) * cout
                    for o in 0 ..< cout { y[out + o] = bias[o] }
                    for kh in 0 ..< g.kernel {
                        let yi = yo * g.stride - g.padding + kh
                        guard yi >= 0, yi < g.height else { continue }
                        for kw in 0 ..< g.kernel {
                            let xi = xo * g.stride - g.padding + kw
                            guard xi >= 0, xi < g.width else { continue }
                            for c in 0 ..< cin {
                                let v = x[n * stride + (yi * g.width + xi) * cin + c]
                                let row = ((kh * g.kernel + kw) * cin + c) * cout
                                for o in 0 ..< cout { y[out + o] += v * weight[row + o] }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// `Engine.im2col` in float64.
    public static func im2col(_ x: [Float], samples: Int, sampleStride: Int, geometry g: ConvolutionGeometry) -> [Float] {
        let (ho, wo, cin) = (g.outputHeight, g.outputWidth, g.inputChannels)
        var cols = [Float](repeating: 0, count: samples * ho * wo * g.patchSize)
        for r in 0 ..< samples * ho * wo {
            let (n, yo, xo) = (r / (ho * wo), r / wo % ho, r % wo)
            for tap in 0 ..< g.kernel * g.kernel {
                let yi = yo * g.stride - g.padding + tap / g.kernel, xi = xo * g.stride - g.padding + tap % g.kernel
                guard yi >= 0, yi < g.height, xi >= 0, xi < g.width else { continue }
                for c in 0 ..< cin { cols[r * g.patchSize + tap * cin + c] = x[n * sampleStride + (yi * g.width + xi) * cin + c] }
            }
        }
        return cols
    }

    /// `Engine.col2im` in float64: the transpose of `im2col`'s copy, summing every patch entry into its pixel.
    public static func col2im(_ dcols: [Float], samples: Int, geometry g: ConvolutionGeometry) -> [Float] {
        let (ho, wo, cin) = (g.outputHeight, g.outputWidth, g.inputChannels)
        var dx = [Double](repeating: 0, count: samples * g.height * g.width * cin)
        for r in 0 ..< samples * ho * wo {
            let (n, yo, xo) = (r / (ho * wo), r / wo % ho, r % wo)
            for tap in 0 ..< g.kernel * g.kernel {
                let yi = yo * g.stride - g.padding + tap / g.kernel, xi = xo * g.stride - g.padding + tap % g.kernel
                guard yi >= 0, yi < g.height, xi >= 0, xi < g.width else { continue }
                for c in 0 ..< cin { dx[((n * g.height + yi) * g.width + xi) * cin + c] += Double(dcols[r * g.patchSize + tap * cin + c]) }
            }
        }
        return dx.map(Float.init)
    }
}
