import OpenCLKit

/// The data movement of a convolution as a product (`Kernels/conv.cl`): `im2col` lays each output pixel's
/// receptive field out as a row, so `cols . W` is the convolution and `cols^T . dy` its weight gradient; `col2im`
/// is its adjoint, which turns `dy . W^T` into the input gradient. The layers use the implicit products below, which
/// read the same patches in place, and these only where those do not serve (`Conv2d`).
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

/// The implicit products: the patches are read in place and never stored. The CPU variant runs `Kernels/conv.cl`'s
/// conv_cpu (matmul_cpu's register blocks over packed weight panels) and, for the weight gradient, conv_weight_cpu (the
/// same blocks with the patches as B panels read in place); the tiled (GPU) variant runs `Kernels/conv_tiled.cl`'s conv_tiled
/// (matmul_tiled with its A slabs gathered from the image) for all three products. `im2col` remains for the CPU
/// variant's weight gradient at channel counts off a multiple of 32, `col2im` for stride-2 input gradients.
extension Engine {
    /// y = epilogue(patches(x) . W) for `samples` images in `x` (as `im2col` reads them); W is patchSize x Cout.
    public func convolve(_ x: Tensor, samples: Int, geometry g: ConvolutionGeometry, weight: Tensor, into y: Tensor,
                         epilogue: MatmulEpilogue) throws(OpenCLError) {
        let stride = try imageStride(x, samples: samples, geometry: g)
        guard weight.rows == g.patchSize, weight.columns == g.outputChannels,
              y.rows == samples * g.outputHeight * g.outputWidth, y.columns == g.outputChannels else {
            throw .invalidRequest("convolve \(g): weight \(weight.rows)x\(weight.columns) or output \(y.rows)x\(y.columns) does not fit")
        }
        if matmulTuning.variant == .tiled {
            return try launchTiledConvolution(.forward, x, stride: stride, geometry: g, weight, into: y, epilogue: epilogue)
        }
        if g.outputChannels <= Self.narrowConvolutionOutputs, UInt64(4 * g.patchSize * g.outputChannels) <= device.localMemoryBytes {
            return try launchNarrowConvolution(x, stride: stride, geometry: g, weight: weight, into: y, epilogue: epilogue)
        }
        let panels = (g.outputChannels + 31) / 32
        let packed = try scratch(count: panels * 32 * g.patchSize)
        try launch("matmul.cl", "pack_b", global: [g.patchSize, panels], options: "-D TRANS_B=0", Int32(g.patchSize),
                   Int32(g.outputChannels), weight.storage, weight.kernelOffset, packed, Int32(0))
        try launchConv(x, stride: stride, geometry: g, panels: packed, into: y, epilogue: epilogue)
    }

    /// dL/dx of a stride-1 convolution from dL/dy, as the transposed convolution of dy (conv_cpu with the flipped
    /// weight packed, or conv_tiled reading it flipped in place): written to `dx` ((samples * H * W) x Cin), or added
    /// to it when `accumulate`.
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
        // With padding K / 2 on both sides the transposed convolution's padding K - 1 - K / 2 is K / 2 again.
        if matmulTuning.variant == .tiled {
            return try launchTiledConvolution(.transposed, dy, stride: dy.count / samples, geometry: transposed, weight, into: dx,
                                              epilogue: accumulate ? .accumulate : .none)
        }
        let panels = (g.inputChannels + 31) / 32
        let packed = try scratch(count: panels * 32 * transposed.patchSize)
        try launch("conv.cl", "pack_flipped_weight", global: [transposed.patchSize, panels], Int32(g.kernel * g.kernel),
                   Int32(g.inputChannels), Int32(g.outputChannels), weight.storage, weight.kernelOffset, packed, Int32(0))
        try launchConv(dy, stride: dy.count / samples, geometry: transposed, panels: packed, into: dx,
                       epilogue: accumulate ? .accumulate : .none)
    }

    /// Whether `convolutionWeightGradient` serves this geometry: always on the tiled variant; on the CPU variant when
    /// the input channels are a multiple of 32 (a B panel row is 32 adjacent channels of one tap).
    public func convolvesWeightGradientInPlace(_ g: ConvolutionGeometry) -> Bool {
        matmulTuning.variant == .tiled || g.inputChannels % 32 == 0
    }

    /// dW += patches(x)^T . dy without the patches stored: conv_tiled reading them as its transposed A, or on CPUs
    /// conv_weight_cpu reading them in place as the B panels of dW^T (`convolvesWeightGradientInPlace`).
    public func convolutionWeightGradient(_ x: Tensor, samples: Int, geometry g: ConvolutionGeometry, outputGradient dy: Tensor,
                                          accumulatingInto dw: Tensor) throws(OpenCLError) {
        let stride = try imageStride(x, samples: samples, geometry: g)
        let pixels = samples * g.outputHeight * g.outputWidth
        guard convolvesWeightGradientInPlace(g), dy.rows == pixels, dy.columns == g.outputChannels, dw.rows == g.patchSize,
              dw.columns == g.outputChannels else {
            throw .invalidRequest("convolutionWeightGradient \(g): dy \(dy.rows)x\(dy.columns), dW \(dw.rows)x\(dw.columns) "
                                  + "(the CPU variant needs channels a multiple of 32)")
        }
        if matmulTuning.variant == .tiled {
            return try launchTiledConvolution(.weightGradient, x, stride: stride, geometry: g, dy, into: dw, epilogue: .accumulate)
        }
        // Chunks of about `weightGradientChunk` pixels, at most 32: enough work-items for every core, few partials.
        let chunks = Swift.max(1, Swift.min(32, pixels / weightGradientChunk)), chunkLength = (pixels + chunks - 1) / chunks
        let (patch, outputs) = (g.patchSize, g.outputChannels)
        let partial = try scratch(count: chunks * outputs * patch)
        try launch("conv.cl", "conv_weight_cpu", global: [patch / 32, chunks], local: [1, 1], options: matmulTuning.defines,
                   Int32(outputs), Int32(pixels), Int32(chunkLength), Int32(g.height), Int32(g.width), Int32(g.inputChannels),
                   Int32(stride), Int32(g.kernel), Int32(g.stride), Int32(g.padding), Int32(g.outputHeight), Int32(g.outputWidth),
                   x.storage, x.kernelOffset, try zeros(count: 32), dy.storage, dy.kernelOffset, partial)
        try launch("conv.cl", "conv_weight_finish", global: [patch, outputs], options: matmulTuning.defines, Int32(patch), Int32(outputs),
                   Int32(chunks), partial, dw.storage, dw.kernelOffset)
    }

    /// The most output channels the CPU variant's forward convolves with conv_narrow (a pixel per work-item, W's
    /// columns in local memory) instead of conv_cpu's 32-wide panels.
    static let narrowConvolutionOutputs = 4

    private func launchNarrowConvolution(_ x: Tensor, stride: Int, geometry g: ConvolutionGeometry, weight: Tensor, into y: Tensor,
                                         epilogue: MatmulEpilogue) throws(OpenCLError) {
        let e = try EpilogueArguments(epilogue, output: y)
        let group = 64, m = y.rows
        let options = "-D EPI=\(e.mode) -D NARROW_N=\(g.outputChannels) -D NARROW_K=\(g.patchSize) -D VW=\(Self.vectorWidth(channels: g.inputChannels))"
        try launch("conv.cl", "conv_narrow", global: [(m + group - 1) / group * group], local: [group], options: options,
                   Int32(m), Int32(g.outputChannels), Int32(g.height), Int32(g.width), Int32(g.inputChannels), Int32(stride),
                   Int32(g.kernel), Int32(g.stride), Int32(g.padding), Int32(g.outputHeight), Int32(g.outputWidth),
                   x.storage, x.kernelOffset, weight.storage, weight.kernelOffset, y.storage, y.kernelOffset,
                   e.bias.storage, e.bias.kernelOffset, e.pre.storage, e.pre.kernelOffset, e.storePre,
                   e.gate.storage, e.gate.kernelOffset, e.activation.rawValue)
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

    /// conv_tiled's `product` of the patches of `x` (`stride` values per image) with `b` into `c` (`Kernels/conv_tiled.cl`).
    private func launchTiledConvolution(_ product: TiledConvolution, _ x: Tensor, stride: Int, geometry g: ConvolutionGeometry,
                                        _ b: Tensor, into c: Tensor, epilogue: MatmulEpilogue) throws(OpenCLError) {
        let e = try EpilogueArguments(epilogue, output: c)
        let tuning = matmulTuning
        let (m, n, k) = product == .weightGradient ? (g.patchSize, c.columns, b.rows) : (c.rows, c.columns, g.patchSize)
        let options = "-D TRANS_A=\(product == .weightGradient ? 1 : 0) -D FLIP_B=\(product == .transposed ? 1 : 0) "
            + "-D EPI=\(e.mode) \(tuning.defines)"
        let local = tuning.tiledLocal
        let global = [(n + tuning.tn - 1) / tuning.tn * local[0], (m + tuning.tm - 1) / tuning.tm * local[1]]
        try launch("conv_tiled.cl", "conv_tiled", global: global, local: local, options: options, Int32(m), Int32(n), Int32(k),
                   Int32(g.height), Int32(g.width), Int32(g.inputChannels), Int32(stride), Int32(g.kernel), Int32(g.stride),
                   Int32(g.padding), Int32(g.outputHeight), Int32(g.outputWidth), x.storage, x.kernelOffset,
                   b.storage, b.kernelOffset, c.storage, c.kernelOffset, e.bias.storage, e.bias.kernelOffset,
                   e.pre.storage, e.pre.kernelOffset, e.storePre, e.gate.storage, e.gate.kernelOffset, e.activation.rawValue)
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

/// Which product conv_tiled computes (its TRANS_A and FLIP_B switches).
enum TiledConvolution {
    /// patches(x) . W: the forward.
    case forward
    /// patches(dy) . flip(W) in the transposed convolution's geometry: a stride-1 convolution's input gradient.
    case transposed
    /// patches(x)^T . dy: the weight gradient.
    case weightGradient
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
