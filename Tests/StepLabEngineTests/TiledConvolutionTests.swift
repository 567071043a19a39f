import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// The tiled variant's implicit products (`Kernels/conv_tiled.cl`) forced on whatever device runs the tests, against
/// direct float64 sums over every tap: the forward with each epilogue, the stride-1 input gradient as the transposed
/// convolution, and the weight gradient, on images read at a sample stride wider than the image.
@Suite struct TiledConvolutionTests {
    /// 1x1 and 3x3, both strides, 5x7 images, 3 and 33 input channels, 1 and 40 output channels.
    static let geometries: [(samples: Int, geometry: ConvolutionGeometry)] = [
        (2, ConvolutionGeometry(height: 5, width: 7, inputChannels: 3, outputChannels: 40)),
        (1, ConvolutionGeometry(height: 5, width: 7, inputChannels: 33, outputChannels: 1)),
        (2, ConvolutionGeometry(height: 5, width: 7, inputChannels: 33, outputChannels: 40, stride: 2)),
        (3, ConvolutionGeometry(height: 5, width: 7, inputChannels: 3, outputChannels: 1, stride: 2)),
        (2, ConvolutionGeometry(height: 5, width: 7, inputChannels: 33, outputChannels: 40, kernel: 1)),
        (1, ConvolutionGeometry(height: 5, width: 7, inputChannels: 3, outputChannels: 40, kernel: 1, stride: 2)),
    ]

    /// Small tiles (partial tiles on every shape, several work-groups per product), and tiles whose slab of A is not a
    /// multiple of the work-group (20 values over 12 work-items) with a slab depth that straddles taps. The default
    /// tiles run in the layer's test (`ConvolutionTests`) and the U-Net's.
    @Test(arguments: [MatmulTuning(variant: .tiled, tm: 8, tn: 8, tk: 4, wm: 2, wn: 2),
                      MatmulTuning(variant: .tiled, tm: 4, tn: 6, tk: 5, wm: 1, wn: 2)])
    func tiledImplicitProductsMatchDirectSums(tuning: MatmulTuning) throws {
        try SharedEngine.withEngine(tuning: tuning) { engine in
            for (index, (samples, g)) in Self.geometries.enumerated() {
                var random = TestRandom(seed: UInt64(20 + index))
                let stride = g.height * g.width * g.inputChannels + 5
                let xv = random.array(samples * stride), wv = random.array(g.patchSize * g.outputChannels)
                let operands = Operands(samples: samples, geometry: g, x: try engine.tensor(xv, rows: samples, columns: stride), xv: xv,
                                        w: try engine.tensor(wv, rows: g.patchSize, columns: g.outputChannels), wv: wv)
                try operands.expectForward(engine, epilogue: index % 4, random: &random)
                if g.stride == 1 { try operands.expectInputGradient(engine, accumulate: index % 2 == 0, random: &random) }
                try operands.expectWeightGradient(engine, random: &random)
            }
        }
    }

    /// A convolution's input (`samples` rows of a wider stride) and weight, with their values.
    struct Operands {
        let samples: Int
        let geometry: ConvolutionGeometry
        let x: Tensor, xv: [Float]
        let w: Tensor, wv: [Float]

        var pixels: Int { samples * geometry.outputHeight * geometry.outputWidth }

        /// float32 sums of up to 297 products of values in [-1, 1] against their float64 twins.
        func expect(_ actual: Tensor, _ expected: [Double], _ what: String,
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
            expectClose(try actual.download(), expected.map(Float.init), rtol: 1e-4, atol: 1e-4, what, sourceLocation: sourceLocation)
        }

        /// Calls `body(pixel, input, row)` for every tap inside the image: an output pixel, the index of the tap's first
        /// channel in an input of `sampleStride` values per image, and the weight row of that channel.
        func forEachTap(sampleStride: Int, _ body: (Int, Int, Int) -> Void) {
            let g = geometry
            for pixel in 0 ..< pixels {
                let (n, yo, xo) = (pixel / (g.outputHeight * g.outputWidth), pixel / g.outputWidth % g.outputHeight, pixel % g.outputWidth)
                for kh in 0 ..< g.kernel {
                    for kw in 0 ..< g.kernel {
                        let yi = yo * g.stride - g.padding + kh, xi = xo * g.stride - g.padding + kw
                        guard yi >= 0, yi < g.height, xi >= 0, xi < g.width else { continue }
                        body(pixel, n * sampleStride + (yi * g.width + xi) * g.inputChannels, (kh * g.kernel + kw) * g.inputChannels)
                    }
                }
            }
        }

        /// y = epilogue(conv(x)) with epilogue 0: none, 1: bias and SiLU storing the pre-activation, 2: bias and a
        /// residual, 3: accumulation into y.
        func expectForward(_ engine: Engine, epilogue: Int, random: inout TestRandom) throws {
            let (cin, cout) = (geometry.inputChannels, geometry.outputChannels)
            var sums = [Double](repeating: 0, count: pixels * cout)
            forEachTap(sampleStride: x.count / samples) { pixel, input, row in
                for c in 0 ..< cin {
                    for o in 0 ..< cout { sums[pixel * cout + o] += Double(xv[input + c]) * Double(wv[(row + c) * cout + o]) }
                }
            }
            let start = random.array(pixels * cout), biasv = random.array(cout), rv = random.array(pixels * cout)
            let y = try engine.tensor(start, rows: pixels, columns: cout), bias = try engine.tensor(biasv, rows: 1, columns: cout)
            let z = try engine.tensor(filled: .nan, rows: pixels, columns: cout), r = try engine.tensor(rv, rows: pixels, columns: cout)
            let biased = sums.indices.map { sums[$0] + Double(biasv[$0 % cout]) }
            let (mode, expected): (MatmulEpilogue, [Double]) = switch epilogue {
            case 0: (.none, sums)
            case 1: (.biasActivation(bias: bias, activation: .silu, preActivation: z), biased.map(Activation.silu.forward))
            case 2: (.biasResidual(bias: bias, residual: r), biased.indices.map { biased[$0] + Double(rv[$0]) })
            default: (.accumulate, sums.indices.map { sums[$0] + Double(start[$0]) })
            }
            try engine.convolve(x, samples: samples, geometry: geometry, weight: w, into: y, epilogue: mode)
            try expect(y, expected, "forward \(geometry) epilogue \(epilogue)")
            if epilogue == 1 { try expect(z, biased, "pre-activation \(geometry)") }
        }

        /// dx (+)= the adjoint of the forward applied to dy, for a stride-1 convolution.
        func expectInputGradient(_ engine: Engine, accumulate: Bool, random: inout TestRandom) throws {
            let (g, cout) = (geometry, geometry.outputChannels)
            let dyv = random.array(pixels * cout), start = random.array(samples * g.height * g.width * g.inputChannels)
            var expected = start.map { accumulate ? Double($0) : 0 }
            forEachTap(sampleStride: g.height * g.width * g.inputChannels) { pixel, input, row in
                for c in 0 ..< g.inputChannels {
                    for o in 0 ..< cout { expected[input + c] += Double(dyv[pixel * cout + o]) * Double(wv[(row + c) * cout + o]) }
                }
            }
            let dy = try engine.tensor(dyv, rows: pixels, columns: cout)
            let dx = try engine.tensor(start, rows: samples * g.height * g.width, columns: g.inputChannels)
            try engine.convolveTransposed(dy, geometry: g, weight: w, accumulate: accumulate, into: dx)
            try expect(dx, expected, "input gradient \(g) accumulate \(accumulate)")
        }

        /// dW += patches(x)^T . dy.
        func expectWeightGradient(_ engine: Engine, random: inout TestRandom) throws {
            let (g, cout) = (geometry, geometry.outputChannels)
            let dyv = random.array(pixels * cout), start = random.array(g.patchSize * cout)
            var expected = start.map(Double.init)
            forEachTap(sampleStride: x.count / samples) { pixel, input, row in
                for c in 0 ..< g.inputChannels {
                    for o in 0 ..< cout { expected[(row + c) * cout + o] += Double(xv[input + c]) * Double(dyv[pixel * cout + o]) }
                }
            }
            let dy = try engine.tensor(dyv, rows: pixels, columns: cout), dw = try engine.tensor(start, rows: g.patchSize, columns: cout)
            #expect(engine.convolvesWeightGradientInPlace(g))
            try engine.convolutionWeightGradient(x, samples: samples, geometry: g, outputGradient: dy, accumulatingInto: dw)
            try expect(dw, expected, "weight gradient \(g)")
        }
    }
}
