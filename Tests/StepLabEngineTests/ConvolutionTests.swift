import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// im2col, col2im and the channel-slice copies against their CPU twins on awkward shapes, the tiled variant's implicit
/// products against direct float64 sums, and the convolution layer's forward and backward against a direct float64
/// convolution and its central differences.
@Suite struct ConvolutionTests {
    /// Odd sizes, one channel, one sample, a 1x1 image, channel counts that fit no tile, both strides and kernels.
    static let geometries: [(samples: Int, geometry: ConvolutionGeometry)] = [
        (1, ConvolutionGeometry(height: 5, width: 7, inputChannels: 1, outputChannels: 3)),
        (3, ConvolutionGeometry(height: 5, width: 7, inputChannels: 3, outputChannels: 5, stride: 2)),
        (2, ConvolutionGeometry(height: 4, width: 4, inputChannels: 2, outputChannels: 33, kernel: 1)),
        (2, ConvolutionGeometry(height: 6, width: 5, inputChannels: 4, outputChannels: 2, kernel: 1, stride: 2)),
        (2, ConvolutionGeometry(height: 1, width: 1, inputChannels: 5, outputChannels: 3)),
        (1, ConvolutionGeometry(height: 3, width: 2, inputChannels: 17, outputChannels: 1, stride: 2)),
        // Channels a multiple of 32: the CPU variant packs the weight gradient's patches straight from the input.
        (2, ConvolutionGeometry(height: 3, width: 4, inputChannels: 32, outputChannels: 3)),
        (1, ConvolutionGeometry(height: 3, width: 3, inputChannels: 64, outputChannels: 2, stride: 2)),
    ]

    @Test func im2colAndCol2imMatchTheirReferences() throws {
        try SharedEngine.withEngine { engine in
            for (index, (samples, g)) in Self.geometries.enumerated() {
                var random = TestRandom(seed: UInt64(index + 1))
                // Rows longer than one image: the patches must read only each row's first H * W * C values.
                let stride = g.height * g.width * g.inputChannels + 3
                let xv = random.array(samples * stride)
                let x = try engine.tensor(xv, rows: samples, columns: stride)
                let rows = samples * g.outputHeight * g.outputWidth
                let cols = try engine.tensor(filled: .nan, rows: rows, columns: g.patchSize)
                try engine.im2col(x, samples: samples, geometry: g, into: cols)
                #expect(try cols.download() == Reference.im2col(xv, samples: samples, sampleStride: stride, geometry: g), "im2col \(g)")

                let dv = random.array(rows * g.patchSize), start = random.array(samples * g.height * g.width * g.inputChannels)
                let dcols = try engine.tensor(dv, rows: rows, columns: g.patchSize)
                let dx = try engine.tensor(start, rows: samples * g.height * g.width, columns: g.inputChannels)
                try engine.col2im(dcols, geometry: g, accumulate: true, into: dx)
                let expected = zip(start, Reference.col2im(dv, samples: samples, geometry: g)).map { $0 + $1 }
                expectClose(try dx.download(), expected, rtol: 1e-5, atol: 1e-6, "col2im \(g)")
            }
        }
    }

    /// The CPU variant's implicit products (conv_cpu and its packs), the tiled variant's (conv_tiled), and col2im for
    /// stride 2 on both.
    @Test(arguments: [MatmulTuning(variant: .cpu), MatmulTuning(variant: .cpu, mr: 3, bandKilobytes: 1), MatmulTuning(variant: .tiled),
                      MatmulTuning(variant: .tiled, tm: 8, tn: 8, tk: 4, wm: 2, wn: 2)])
    func convolutionForwardAndBackwardMatchADirectConvolution(tuning: MatmulTuning) throws {
        try SharedEngine.withEngine(tuning: tuning) { engine in
            for (index, (samples, g)) in Self.geometries.enumerated() {
                var layout = ParameterLayout()
                let conv = Conv2d("conv", geometry: g, layout: &layout)
                let store = try ParameterStore(engine: engine, layout: layout, seed: UInt64(index))
                var random = TestRandom(seed: UInt64(10 + index))
                let xv = random.array(samples * g.height * g.width * g.inputChannels, -2, 2)
                let probe = random.array(samples * g.outputHeight * g.outputWidth * g.outputChannels)
                let tape = Tape(engine: engine, store: store)
                try tape.begin(batch: samples, recording: true)
                let x = try engine.tensor(xv, rows: samples * g.height * g.width, columns: g.inputChannels)
                let y = try conv.forward(x, tape: tape)
                try store.zeroGradients(engine: engine)
                let dy = try engine.tensor(probe, rows: y.rows, columns: y.columns)
                let dx = try #require(try tape.backward(dy, inputGradients: [x])[0]).download()
                let (forward, single) = (try y.download(), try store.gradients.download())
                // Read twice, y2 = conv(x) + conv(x): the second read's gradients add into the first's (the accumulating
                // input-gradient kernels) and the residual passes dy through.
                try tape.begin(batch: samples, recording: true)
                let twice = try conv.forward(x, adding: conv.forward(x, tape: tape), tape: tape)
                try store.zeroGradients(engine: engine)
                let sum = try #require(try tape.backward(dy, output: twice, inputGradients: [x])[0])
                let doubled = try store.gradients.download()
                try store.gradients.upload(single)

                let values = try store.values.download().map(Double.init)
                let (wCount, xd) = (g.patchSize * g.outputChannels, xv.map(Double.init))
                func output(_ x: [Double], _ p: [Double]) -> [Double] {
                    Reference.conv2d(x, samples: samples, geometry: g, weight: Array(p[..<wCount]), bias: Array(p[wCount...]))
                }
                expectClose(forward, output(xd, values).map(Float.init), rtol: 1e-4, atol: 1e-5, "forward \(g)")
                let loss = { (x: [Double], p: [Double]) in LayerGradientTests.probed(output(x, p), probe) }
                expectClose(try store.gradients.download(), centralDifferences(at: values) { loss(xd, $0) }, rtol: 1e-3, atol: 1e-4,
                            "weight and bias gradients \(g)")
                let numericInput = centralDifferences(at: xd) { loss($0, values) }
                expectClose(dx, numericInput, rtol: 1e-3, atol: 1e-4, "input gradient \(g)")
                expectClose(try sum.download(), numericInput.map { 2 * $0 }, rtol: 1e-3, atol: 1e-4, "accumulated \(g)")
                expectClose(doubled, single.map { 2 * $0 }, rtol: 1e-4, atol: 1e-5, "parameter gradients read twice \(g)")
            }
        }
    }

    /// The CPU variant's convolution to at most 4 channels (conv_narrow: W's columns in local memory, a pixel per
    /// work-item) against a direct float64 convolution, with its bias and activation fused: 8, 12 and 5 input channels
    /// take its 8-, 4- and 1-wide vectors, 70 output pixels fill one work-group and part of a second, a stride-2 and a
    /// 1x1 kernel; the pre-activation it stores too. Small enough for Oclgrind (scripts/oclgrind-check.sh).
    @Test func narrowConvolutionsMatchADirectConvolution() throws {
        let cases: [(samples: Int, geometry: ConvolutionGeometry)] = [
            (2, ConvolutionGeometry(height: 5, width: 7, inputChannels: 8, outputChannels: 3)),
            (1, ConvolutionGeometry(height: 7, width: 6, inputChannels: 12, outputChannels: 1, stride: 2)),
            (3, ConvolutionGeometry(height: 2, width: 3, inputChannels: 5, outputChannels: 4, kernel: 1)),
        ]
        try SharedEngine.withEngine(tuning: MatmulTuning(variant: .cpu)) { engine in
            for (index, (samples, g)) in cases.enumerated() {
                var random = TestRandom(seed: UInt64(90 + index))
                let xv = random.array(samples * g.height * g.width * g.inputChannels, -2, 2)
                let wv = random.array(g.patchSize * g.outputChannels), bv = random.array(g.outputChannels)
                let rows = samples * g.outputHeight * g.outputWidth
                let x = try engine.tensor(xv, rows: samples * g.height * g.width, columns: g.inputChannels)
                let (y, z) = (try engine.tensor(rows: rows, columns: g.outputChannels), try engine.tensor(rows: rows, columns: g.outputChannels))
                try engine.convolve(x, samples: samples, geometry: g, weight: engine.tensor(wv, rows: g.patchSize, columns: g.outputChannels),
                                    into: y, epilogue: .biasActivation(bias: engine.tensor(bv, rows: 1, columns: g.outputChannels),
                                                                        activation: .silu, preActivation: z))
                let expected = Reference.conv2d(xv.map(Double.init), samples: samples, geometry: g, weight: wv.map(Double.init),
                                                bias: bv.map(Double.init))
                expectClose(try z.download(), expected.map(Float.init), rtol: 1e-5, atol: 1e-5, "pre-activation \(g)")
                expectClose(try y.download(), expected.map { Float(Activation.silu.forward($0)) }, rtol: 1e-5, atol: 1e-5, "output \(g)")
            }
        }
    }

    /// The weight gradient split into chunks of 70 output pixels (the CPU variant's default is 1024), so chunks start
    /// mid-image and go over more than one 64-pixel block, against im2col^T . dy in float64, added to what dW held;
    /// rows of the input longer than one image; both strides, a 1x1 kernel, 32 and 64 channels, and output channels
    /// that fill no register block.
    @Test(arguments: [MatmulTuning(variant: .cpu, mr: 3), MatmulTuning(variant: .tiled)])
    func weightGradientsSplitIntoChunksMatchTheirReference(tuning: MatmulTuning) throws {
        let cases: [(samples: Int, geometry: ConvolutionGeometry)] = [
            (2, ConvolutionGeometry(height: 9, width: 8, inputChannels: 32, outputChannels: 3)),
            (5, ConvolutionGeometry(height: 11, width: 9, inputChannels: 32, outputChannels: 5, stride: 2)),
            (2, ConvolutionGeometry(height: 9, width: 8, inputChannels: 64, outputChannels: 2, kernel: 1)),
        ]
        try SharedEngine.withEngine(tuning: tuning) { engine in
            let chunk = engine.weightGradientChunk
            defer { engine.weightGradientChunk = chunk }
            engine.weightGradientChunk = 70
            for (index, (samples, g)) in cases.enumerated() {
                var random = TestRandom(seed: UInt64(40 + index))
                let stride = g.height * g.width * g.inputChannels + 7
                let pixels = samples * g.outputHeight * g.outputWidth
                let xv = random.array(samples * stride), dyv = random.array(pixels * g.outputChannels)
                let start = random.array(g.patchSize * g.outputChannels)
                let x = try engine.tensor(xv, rows: samples, columns: stride)
                let dy = try engine.tensor(dyv, rows: pixels, columns: g.outputChannels)
                let dw = try engine.tensor(start, rows: g.patchSize, columns: g.outputChannels)
                try engine.convolutionWeightGradient(x, samples: samples, geometry: g, outputGradient: dy, accumulatingInto: dw)
                let cols = Reference.im2col(xv, samples: samples, sampleStride: stride, geometry: g)
                let product = Reference.matmul(cols, rows: pixels, columns: g.patchSize, transposeA: true,
                                               dyv, rows: pixels, columns: g.outputChannels, transposeB: false, add: start).c
                expectClose(try dw.download(), product, rtol: 1e-4, atol: 1e-4, "weight gradient \(g), \(pixels) pixels")
            }
        }
    }

    @Test(arguments: [(1, 3, 5, 1, 1, 0, 1), (2, 4, 6, 3, 7, 2, 2), (3, 2, 2, 5, 9, 4, 2), (2, 7, 3, 4, 4, 0, 1)])
    func channelSlicesMatchTheirReferences(samples: Int, height: Int, width: Int, cs: Int, cd: Int, column: Int,
                                           upsample: Int) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(samples * 100 + height * 10 + cs))
            let pixels = samples * height * width
            let sv = random.array(pixels / (upsample * upsample) * cs), dv = random.array(pixels * cd)
            let source = try engine.tensor(sv, rows: pixels / (upsample * upsample), columns: cs)
            let destination = try engine.tensor(dv, rows: pixels, columns: cd)
            try engine.placeChannels(source, into: destination, column: column, height: height, width: width, upsample: upsample)
            var expected = dv.map(Double.init)
            Reference.placeChannels(sv.map(Double.init), channels: cs, into: &expected, channels: cd, column: column,
                                    height: height, width: width, upsample: upsample)
            #expect(try destination.download() == expected.map(Float.init), "place")

            let gradient = random.array(pixels * cd), start = random.array(source.count)
            let dd = try engine.tensor(gradient, rows: pixels, columns: cd)
            let ds = try engine.tensor(start, rows: source.rows, columns: cs)
            try engine.gatherChannels(dd, column: column, height: height, width: width, upsample: upsample, accumulate: true, into: ds)
            let gathered = Reference.gatherChannels(gradient.map(Double.init), channels: cd, column: column, channels: cs,
                                                    height: height, width: width, upsample: upsample)
            expectClose(try ds.download(), zip(start, gathered).map { Float(Double($0) + $1) }, rtol: 1e-5, atol: 1e-6, "gather")
        }
    }

    @Test func badConvolutionShapesAreRefused() throws {
        try SharedEngine.withEngine { engine in
            let g = ConvolutionGeometry(height: 4, width: 4, inputChannels: 2, outputChannels: 3)
            let x = try engine.tensor(rows: 2 * 16, columns: 2), cols = try engine.tensor(rows: 2 * 16, columns: 17)
            #expect(throws: OpenCLError.self) { try engine.im2col(x, samples: 2, geometry: g, into: cols) }
            #expect(throws: OpenCLError.self) {
                try engine.im2col(x, samples: 2, geometry: ConvolutionGeometry(height: 4, width: 4, inputChannels: 2,
                                                                               outputChannels: 3, kernel: 5), into: cols)
            }
            #expect(throws: OpenCLError.self) { try engine.placeChannels(x, into: x, column: 1, height: 4, width: 4) }
        }
    }
}
