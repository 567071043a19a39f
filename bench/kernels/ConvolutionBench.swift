import Foundation
import OpenCLKit
import StepLabEngine

/// One timed convolution of the U-Net step (batch 64): the layer's forward and backward (input, weight and bias
/// gradients) in GFLOP/s, beside OpenBLAS's sgemm on the forward's im2col product (same FLOP count), and the two
/// products a layout would run: NHWC's (pixels x K*K*Cin) . (K*K*Cin x Cout), NCHW's (Cout x K*K*Cin) . (K*K*Cin x pixels).
struct ConvolutionResult: Codable {
    var shape: String
    var forwardGflops: Double
    var backwardGflops: Double
    var openblasGflops: Double?
    var nhwcProductGflops: Double
    var nchwProductGflops: Double

    enum CodingKeys: String, CodingKey {
        case shape
        case forwardGflops = "forward_gflops", backwardGflops = "backward_gflops", openblasGflops = "openblas_gflops"
        case nhwcProductGflops = "nhwc_product_gflops", nchwProductGflops = "nchw_product_gflops"
    }
}

enum ConvolutionBench {
    static let samples = 64

    /// The distinct convolutions of `TrainStepBench.imageShape`'s U-Net (28x28, channels 32/64/64, one block per level).
    static let geometries: [ConvolutionGeometry] = [
        ConvolutionGeometry(height: 28, width: 28, inputChannels: 1, outputChannels: 32),
        ConvolutionGeometry(height: 28, width: 28, inputChannels: 32, outputChannels: 32),
        ConvolutionGeometry(height: 28, width: 28, inputChannels: 96, outputChannels: 32),
        ConvolutionGeometry(height: 28, width: 28, inputChannels: 32, outputChannels: 1),
        ConvolutionGeometry(height: 28, width: 28, inputChannels: 32, outputChannels: 32, stride: 2),
        ConvolutionGeometry(height: 14, width: 14, inputChannels: 32, outputChannels: 64),
        ConvolutionGeometry(height: 14, width: 14, inputChannels: 64, outputChannels: 64),
        ConvolutionGeometry(height: 14, width: 14, inputChannels: 128, outputChannels: 64),
        ConvolutionGeometry(height: 14, width: 14, inputChannels: 64, outputChannels: 64, stride: 2),
        ConvolutionGeometry(height: 7, width: 7, inputChannels: 64, outputChannels: 64),
        ConvolutionGeometry(height: 7, width: 7, inputChannels: 128, outputChannels: 64),
        ConvolutionGeometry(height: 28, width: 28, inputChannels: 96, outputChannels: 32, kernel: 1),
    ]

    static func run(engine: Engine, blas: OpenBLAS?, seconds: Double) throws -> [ConvolutionResult] {
        print("\nconvolutions of the U-Net step (batch \(samples), NHWC; GFLOP/s of the Conv2d layer; OpenBLAS: sgemm on the "
              + "forward's im2col product;\n  NHWC/NCHW: this engine's matmul on the product each layout would run)")
        print("  shape                      forward  backward" + (blas != nil ? "  OpenBLAS" : "") + "   NHWC product  NCHW product")
        var results: [ConvolutionResult] = []
        for g in geometries {
            var random = SplitMix(seed: 3)
            var layout = ParameterLayout()
            let conv = Conv2d("conv", geometry: g, layout: &layout)
            let store = try ParameterStore(engine: engine, layout: layout, seed: 1)
            let tape = Tape(engine: engine, store: store)
            let inputCount = samples * g.height * g.width * g.inputChannels
            let x = try engine.tensor((0 ..< inputCount).map { _ in random.nextFloat() }, rows: samples * g.height * g.width,
                                      columns: g.inputChannels)
            let pixels = samples * g.outputHeight * g.outputWidth
            let dy = try engine.tensor((0 ..< pixels * g.outputChannels).map { _ in random.nextFloat() }, rows: pixels,
                                       columns: g.outputChannels)
            let flops = g.flops(samples: samples)
            let forward = try secondsPerCall(minSeconds: seconds) {
                try tape.begin(batch: samples, recording: true)
                _ = try conv.forward(x, tape: tape)
                try engine.synchronize()
            }
            let backward = try secondsPerCall(minSeconds: seconds) {
                _ = try tape.backward(dy, inputGradients: [x])
                try engine.synchronize()
            }
            var reference: Double?
            if let blas {
                let a = (0 ..< pixels * g.patchSize).map { _ in random.nextFloat() }
                let b = (0 ..< g.patchSize * g.outputChannels).map { _ in random.nextFloat() }
                var c = [Float](repeating: 0, count: pixels * g.outputChannels)
                let t = secondsPerCall(minSeconds: seconds) {
                    blas.multiply(m: pixels, n: g.outputChannels, k: g.patchSize, transposeA: false, transposeB: false, a: a, b: b, c: &c)
                }
                reference = flops / t * 1e-9
            }
            let nhwc = try productGflops(engine, m: pixels, n: g.outputChannels, k: g.patchSize, seconds: seconds)
            let nchw = try productGflops(engine, m: g.outputChannels, n: pixels, k: g.patchSize, seconds: seconds)
            let result = ConvolutionResult(shape: g.description, forwardGflops: flops / forward * 1e-9,
                                           backwardGflops: 2 * flops / backward * 1e-9, openblasGflops: reference,
                                           nhwcProductGflops: nhwc, nchwProductGflops: nchw)
            var line = "  " + result.shape.padding(toLength: 25, withPad: " ", startingAt: 0)
                + String(format: " %8.1f  %8.1f", result.forwardGflops, result.backwardGflops)
            if let reference { line += String(format: "  %8.1f", reference) }
            line += String(format: "   %12.1f  %12.1f", nhwc, nchw)
            print(line)
            results.append(result)
        }
        return results
    }

    /// GFLOP/s of this engine's plain product M x K . K x N.
    static func productGflops(_ engine: Engine, m: Int, n: Int, k: Int, seconds: Double) throws -> Double {
        let a = try engine.tensor(filled: 0.5, rows: m, columns: k), b = try engine.tensor(filled: 0.25, rows: k, columns: n)
        let c = try engine.tensor(rows: m, columns: n)
        let t = try secondsPerCall(minSeconds: seconds) {
            try engine.matmul(a, b, into: c)
            try engine.synchronize()
        }
        return 2 * Double(m * n * k) / t * 1e-9
    }
}
