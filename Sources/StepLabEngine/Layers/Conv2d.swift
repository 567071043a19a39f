import OpenCLKit

/// A 2-D convolution over NHWC activations, `y = conv(x, W) + b` (`ConvolutionGeometry`: 1x1 or 3x3, stride 1 or 2,
/// zero padding K / 2), computed as the product `patches(x) . W` with the bias (and a residual add) in its epilogue:
/// on CPUs with the patches read in place (`Engine.convolve`, and the transposed convolution for the input gradient),
/// elsewhere through `im2col` and the tuned matmul (and `col2im`); a 1x1 stride-1 convolution is the product on the
/// activations as they lie. W is stored `(K * K * Cin) x Cout`, rows
/// ordered (kh, kw, cin), as `NAME.weight` (torch's `Conv2d.weight.permute(2, 3, 1, 0)`), b as `NAME.bias` (1 x Cout).
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

    public func outputGate(tape: Tape) throws(OpenCLError) -> Gate? { nil }

    public func backward(_ dy: Tensor, tape: Tape, input: InputGradient) throws(OpenCLError) -> Tensor? {
        try accumulateParameterGradients(dy, tape: tape)
        if case .none = input { return nil }
        let dx = try tape.allocate(rows: tape.batch * geometry.height * geometry.width, columns: geometry.inputChannels)
        try inputGradient(dy, tape: tape, into: dx, accumulate: false)
        return try input.finish(dx, engine: tape.engine)
    }

    /// The backward adding dL/dx into `dx` (a residual stream's gradient) instead of returning it.
    public func backward(_ dy: Tensor, tape: Tape, accumulatingInto dx: Tensor) throws(OpenCLError) {
        try accumulateParameterGradients(dy, tape: tape)
        try inputGradient(dy, tape: tape, into: dx, accumulate: true)
    }

    private func forward(_ x: Tensor, residual: Tensor?, tape: Tape) throws(OpenCLError) -> Tensor {
        let (g, engine) = (geometry, tape.engine)
        let rows = tape.batch * g.outputHeight * g.outputWidth
        let y = try tape.allocate(rows: rows, columns: g.outputChannels)
        let b = try tape.value(bias), w = try tape.value(weight)
        let epilogue: MatmulEpilogue = residual.map { .biasResidual(bias: b, residual: $0) }
            ?? .biasActivation(bias: b, activation: .identity, preActivation: nil)
        if g.isPointwise && x.columns == g.inputChannels {
            try engine.matmul(x, w, into: y, epilogue: epilogue)
            tape.save([x], for: self)
        } else if usesInputInPlace(x, engine) {
            try engine.convolve(x, samples: tape.batch, geometry: g, weight: w, into: y, epilogue: epilogue)
            tape.save([x], for: self)
        } else {
            let patches = try tape.allocate(rows: rows, columns: g.patchSize)
            try engine.im2col(x, samples: tape.batch, geometry: g, into: patches)
            try engine.matmul(patches, w, into: y, epilogue: epilogue)
            tape.save([patches], for: self)
        }
        return y
    }

    /// Whether the forward convolves `x` in place (the CPU variant's conv_cpu), saving x rather than its patches.
    private func usesInputInPlace(_ x: Tensor, _ engine: Engine) -> Bool {
        !(geometry.isPointwise && x.columns == geometry.inputChannels) && engine.convolvesInPlace
    }

    /// The weight gradient `patches^T . dy` from what the forward saved: the patches (or, for a 1x1 convolution of
    /// activations, the input itself); else the input of the in-place forward, whose patches are packed straight into
    /// the product's panels where the channels allow, or formed now.
    private func accumulateParameterGradients(_ dy: Tensor, tape: Tape) throws(OpenCLError) {
        let saved = try tape.saved(for: self)[0], engine = tape.engine, dw = try tape.gradient(weight)
        if !usesInputInPlace(saved, engine) {
            try engine.matmul(saved, transposeA: true, dy, into: dw, epilogue: .accumulate)
        } else if engine.packsPatches(geometry) {
            try engine.convolutionWeightGradient(saved, samples: tape.batch, geometry: geometry, outputGradient: dy, accumulatingInto: dw)
        } else {
            let patches = try tape.allocate(rows: dy.rows, columns: geometry.patchSize)
            try engine.im2col(saved, samples: tape.batch, geometry: geometry, into: patches)
            try engine.matmul(patches, transposeA: true, dy, into: dw, epilogue: .accumulate)
        }
        try engine.columnSums(dy, accumulate: true, into: tape.gradient(bias))
    }

    private func inputGradient(_ dy: Tensor, tape: Tape, into dx: Tensor, accumulate: Bool) throws(OpenCLError) {
        let (w, engine) = (try tape.value(weight), tape.engine)
        if geometry.isPointwise {
            try engine.matmul(dy, w, transposeB: true, into: dx, epilogue: accumulate ? .accumulate : .none)
        } else if geometry.stride == 1 && engine.convolvesInPlace {
            try engine.convolveTransposed(dy, geometry: geometry, weight: w, accumulate: accumulate, into: dx)
        } else {
            let dpatches = try tape.allocate(rows: dy.rows, columns: geometry.patchSize)
            try engine.matmul(dy, w, transposeB: true, into: dpatches)
            try engine.col2im(dpatches, geometry: geometry, accumulate: accumulate, into: dx)
        }
    }
}
