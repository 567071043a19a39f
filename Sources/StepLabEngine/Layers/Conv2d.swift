import OpenCLKit

/// A 2-D convolution over NHWC activations, `y = conv(x, W) + b` (`ConvolutionGeometry`: 1x1 or 3x3, stride 1 or 2,
/// zero padding K / 2), computed as the product `patches(x) . W` with the bias (and a residual add) in its epilogue,
/// the patches read in place and never stored (`Engine.convolve`: conv_cpu on the CPU matmul variant, conv_tiled on
/// the tiled one); a 1x1 stride-1 convolution is the product on the activations as they lie. The backward stores no
/// patches either where it can: a stride-1 convolution's input gradient is the transposed convolution of dy (a
/// stride-2 one's is `col2im(dy . W^T)`), and the weight gradient reads the patches in place
/// (`Engine.convolutionWeightGradient`) except on the CPU variant at channel counts off a multiple of 32, which forms
/// them with `im2col` for it. W is stored `(K * K * Cin) x Cout`, rows ordered (kh, kw, cin), as `NAME.weight`
/// (torch's `Conv2d.weight.permute(2, 3, 1, 0)`), b as `NAME.bias` (1 x Cout).
///
/// Its input is `samples` images: `(samples * H * W) x Cin` activations, or any tensor whose rows hold one image
/// each in their first H * W * Cin values (a denoiser's network input); the output is `(samples * Ho * Wo) x Cout`.
public final class Conv2d: Layer {
    public let geometry: ConvolutionGeometry
    public let weight: ParameterStore.Entry
    public let bias: ParameterStore.Entry

    /// PyTorch's default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = K * K * Cin, or zeros
    /// (`zeroInitialised`: a residual branch's last convolution and the output, as ADM's zero_module).
    public init(_ name: String, geometry: ConvolutionGeometry, zeroInitialised: Bool = false, layout: inout ParameterLayout) {
        self.geometry = geometry
        let initializer: ParameterLayout.Initializer = zeroInitialised ? .zeros : .uniform(bound: 1 / Float(geometry.patchSize).squareRoot())
        weight = layout.declare(name + ".weight", rows: geometry.patchSize, columns: geometry.outputChannels, initializer)
        bias = layout.declare(name + ".bias", rows: 1, columns: geometry.outputChannels, initializer)
    }

    public func forward(_ x: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        try forward(x, residual: nil, tape: tape)
    }

    /// `residual + conv(x)` in one product: a residual branch's last convolution.
    public func forward(_ x: Tensor, adding residual: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        try forward(x, residual: residual, tape: tape)
    }

    private func forward(_ x: Tensor, residual: Tensor?, tape: Tape) throws(OpenCLError) -> Tensor {
        let g = geometry
        let y = try tape.allocate(rows: tape.batch * g.outputHeight * g.outputWidth, columns: g.outputChannels)
        let b = try tape.value(bias), w = try tape.value(weight)
        let epilogue: MatmulEpilogue = residual.map { .biasResidual(bias: b, residual: $0) }
            ?? .biasActivation(bias: b, activation: .identity, preActivation: nil)
        try product(x, weight: w, tape: tape, into: y, epilogue: epilogue)
        try tape.record(Convolution(layer: self, x: x, residual: residual),
                        inputs: [x] + (residual.map { [$0] } ?? []), output: y, parameterized: true)
        return y
    }

    private func isPlainProduct(_ x: Tensor) -> Bool { geometry.isPointwise && x.columns == geometry.inputChannels }

    /// conv(x) . W with `epilogue`, without patches: the product itself for a 1x1 convolution of activations, else
    /// the in-place convolution.
    private func product(_ x: Tensor, weight w: Tensor, tape: Tape, into y: Tensor, epilogue: MatmulEpilogue) throws(OpenCLError) {
        if isPlainProduct(x) {
            try tape.engine.matmul(x, w, into: y, epilogue: epilogue)
        } else {
            try tape.engine.convolve(x, samples: tape.batch, geometry: geometry, weight: w, into: y, epilogue: epilogue)
        }
    }

    /// The recorded convolution: its input and the residual.
    struct Convolution: TapeOp {
        let layer: Conv2d
        let x: Tensor
        let residual: Tensor?

        /// dW += patchesᵀ dy, db += Σ dy, dx by the transposed convolution; the residual's gradient is dy itself.
        func backward(_ dy: Tensor, pass: BackwardPass) throws(OpenCLError) {
            let (g, tape) = (layer.geometry, pass.tape)
            try layer.accumulateParameterGradients(dy, x: x, tape: tape)
            let sink = try pass.sink(for: x, rows: tape.batch * g.height * g.width, columns: g.inputChannels)
            if let dx = sink.tensor {
                try layer.inputGradient(dy, tape: tape, into: dx, accumulate: sink.accumulates)
                try sink.finish(engine: pass.engine)
            }
            if let residual { try pass.passThrough(dy, to: residual) }
        }

        /// conv(ẋ) without the bias (+ ṙ).
        func tangent(_ tape: Tape) throws(OpenCLError) -> Tensor? {
            let dr = residual.flatMap { tape.tangent(of: $0) }
            guard let dx = tape.tangent(of: x) else { return dr }
            let g = layer.geometry, w = try tape.value(layer.weight)
            let dy = try tape.allocate(rows: tape.batch * g.outputHeight * g.outputWidth, columns: g.outputChannels)
            var epilogue = MatmulEpilogue.none
            if let dr { epilogue = .biasResidual(bias: try tape.zeroRow(columns: g.outputChannels), residual: dr) }
            try layer.product(dx, weight: w, tape: tape, into: dy, epilogue: epilogue)
            return dy
        }
    }

    /// The weight gradient `patches^T . dy`: with the patches read in place where the engine can
    /// (`convolvesWeightGradientInPlace`), or formed now; a 1x1 convolution of activations on the tiled variant, or
    /// off its in-place channel counts, is the product on the input itself. (On CPUs conv_weight_cpu reads x where it
    /// lies; the product would pack xᵀ and split its sum over every pixel of the batch: bench/results/README.md.)
    private func accumulateParameterGradients(_ dy: Tensor, x: Tensor, tape: Tape) throws(OpenCLError) {
        let engine = tape.engine, dw = try tape.gradient(weight), inPlace = engine.convolvesWeightGradientInPlace(geometry)
        if isPlainProduct(x), engine.matmulTuning.variant == .tiled || !inPlace {
            try engine.matmul(x, transposeA: true, dy, into: dw, epilogue: .accumulate)
        } else if inPlace {
            try engine.convolutionWeightGradient(x, samples: tape.batch, geometry: geometry, outputGradient: dy, accumulatingInto: dw)
        } else {
            let columns = try tape.allocate(rows: dy.rows, columns: geometry.patchSize)
            try engine.im2col(x, samples: tape.batch, geometry: geometry, into: columns)
            try engine.matmul(columns, transposeA: true, dy, into: dw, epilogue: .accumulate)
        }
        try engine.columnSums(dy, accumulate: true, into: tape.gradient(bias))
    }

    private func inputGradient(_ dy: Tensor, tape: Tape, into dx: Tensor, accumulate: Bool) throws(OpenCLError) {
        let (w, engine) = (try tape.value(weight), tape.engine)
        if geometry.isPointwise {
            try engine.matmul(dy, w, transposeB: true, into: dx, epilogue: accumulate ? .accumulate : .none)
        } else if geometry.stride == 1 {
            try engine.convolveTransposed(dy, geometry: geometry, weight: w, accumulate: accumulate, into: dx)
        } else {
            let dpatches = try tape.allocate(rows: dy.rows, columns: geometry.patchSize)
            try engine.matmul(dy, w, transposeB: true, into: dpatches)
            try engine.col2im(dpatches, geometry: geometry, accumulate: accumulate, into: dx)
        }
    }
}
