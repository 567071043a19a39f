import OpenCLKit

/// y = act(x . W + b), with the bias and activation fused into the product's epilogue. W is stored
/// `inputs x outputs` (the transpose of PyTorch's `Linear.weight`) as `NAME.weight`, b as `NAME.bias` (1 x outputs).
public final class Linear: Layer {
    public let inputs: Int
    public let outputs: Int
    public let activation: Activation
    public let weight: ParameterStore.Entry
    public let bias: ParameterStore.Entry

    /// PyTorch's default initialisation, U(-1/sqrt(inputs), 1/sqrt(inputs)) for W and b, or zeros for both
    /// (`zeroInitialised`: the last layer of a residual branch, so the branch starts at zero, adaLN-zero in DiT).
    public init(_ name: String, inputs: Int, outputs: Int, activation: Activation = .identity, zeroInitialised: Bool = false,
                layout: inout ParameterLayout) {
        self.inputs = inputs; self.outputs = outputs; self.activation = activation
        let initializer: ParameterLayout.Initializer = zeroInitialised ? .zeros : .uniform(bound: 1 / Float(inputs).squareRoot())
        weight = layout.declare(name + ".weight", rows: inputs, columns: outputs, initializer)
        bias = layout.declare(name + ".bias", rows: 1, columns: outputs, initializer)
    }

    public func forward(_ x: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        try requireColumns(x)
        let y = try tape.allocate(rows: x.rows, columns: outputs)
        let keepsZ = activation != .identity && (tape.recording || tape.tangents)
        let z = keepsZ ? try tape.allocate(rows: x.rows, columns: outputs) : nil
        try tape.engine.matmul(x, tape.value(weight), into: y,
                               epilogue: .biasActivation(bias: tape.value(bias), activation: activation, preActivation: z))
        try tape.record(Product(layer: self, x: x, z: z, residual: nil), inputs: [x], output: y,
                        gate: z.map { Gate(preActivation: $0, activation: activation) }, parameterized: true)
        return y
    }

    /// `residual + x . W + b` in one product: a residual branch's last layer (identity activation only).
    public func forward(_ x: Tensor, adding residual: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        guard activation == .identity else { throw .invalidRequest("a residual Linear has no activation of its own") }
        try requireColumns(x)
        let y = try tape.allocate(rows: x.rows, columns: outputs)
        try tape.engine.matmul(x, tape.value(weight), into: y, epilogue: .biasResidual(bias: tape.value(bias), residual: residual))
        try tape.record(Product(layer: self, x: x, z: nil, residual: residual), inputs: [x, residual], output: y, parameterized: true)
        return y
    }

    /// The recorded product: y = act(x . W + b) (+ residual).
    struct Product: TapeOp {
        let layer: Linear
        let x: Tensor
        /// The pre-activation, kept when the activation is not the identity.
        let z: Tensor?
        let residual: Tensor?

        /// dW += xᵀ dz, db += Σ dz, dx = dz Wᵀ (gate folded in), the residual's gradient is dz itself.
        func backward(_ dz: Tensor, pass: BackwardPass) throws(OpenCLError) {
            let (tape, engine) = (pass.tape, pass.engine)
            try engine.matmul(x, transposeA: true, dz, into: tape.gradient(layer.weight), epilogue: .accumulate)
            try engine.columnSums(dz, accumulate: true, into: tape.gradient(layer.bias))
            let sink = try pass.sink(for: x)
            if let dx = sink.tensor {
                try engine.matmul(dz, tape.value(layer.weight), transposeB: true, into: dx, epilogue: sink.productEpilogue)
            }
            if let residual { try pass.passThrough(dz, to: residual) }
        }

        /// ẏ = act'(z) (ẋ W), or ẋ W + ṙ on a residual stream.
        func tangent(_ tape: Tape) throws(OpenCLError) -> Tensor? {
            let dr = residual.flatMap { tape.tangent(of: $0) }
            guard let dx = tape.tangent(of: x) else { return dr }
            let dy = try tape.allocate(rows: x.rows, columns: layer.outputs)
            let epilogue: MatmulEpilogue = if let z {
                .activationGradient(preActivation: z, activation: layer.activation)
            } else if let dr {
                .biasResidual(bias: try tape.zeroRow(columns: layer.outputs), residual: dr)
            } else {
                .none
            }
            try tape.engine.matmul(dx, tape.value(layer.weight), into: dy, epilogue: epilogue)
            return dy
        }
    }

    private func requireColumns(_ x: Tensor) throws(OpenCLError) {
        guard x.columns == inputs else { throw .invalidRequest("Linear of \(inputs) inputs got \(x.rows)x\(x.columns)") }
    }
}
