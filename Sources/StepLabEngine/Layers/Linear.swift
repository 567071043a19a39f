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
        let y = try tape.allocate(columns: outputs)
        let z = activation != .identity && tape.recording ? try tape.allocate(columns: outputs) : nil
        try tape.engine.matmul(x, tape.value(weight), into: y,
                               epilogue: .biasActivation(bias: tape.value(bias), activation: activation, preActivation: z))
        tape.save(z.map { [x, $0] } ?? [x], for: self)
        return y
    }

    /// `residual + x . W + b` in one product: a residual branch's last layer (identity activation only).
    public func forward(_ x: Tensor, adding residual: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        guard activation == .identity else { throw .invalidRequest("a residual Linear has no activation of its own") }
        try requireColumns(x)
        let y = try tape.allocate(columns: outputs)
        try tape.engine.matmul(x, tape.value(weight), into: y, epilogue: .biasResidual(bias: tape.value(bias), residual: residual))
        tape.save([x], for: self)
        return y
    }

    public func outputGate(tape: Tape) throws(OpenCLError) -> Gate? {
        guard activation != .identity else { return nil }
        return Gate(preActivation: try tape.saved(for: self)[1], activation: activation)
    }

    public func backward(_ dz: Tensor, tape: Tape, input: InputGradient) throws(OpenCLError) -> Tensor? {
        let x = try tape.saved(for: self)[0]
        let engine = tape.engine
        try engine.matmul(x, transposeA: true, dz, into: tape.gradient(weight), epilogue: .accumulate)
        try engine.columnSums(dz, accumulate: true, into: tape.gradient(bias))
        let w = try tape.value(weight)
        switch input {
        case .none:
            return nil
        case .plain:
            let dx = try tape.allocate(columns: inputs)
            try engine.matmul(dz, w, transposeB: true, into: dx)
            return dx
        case let .gated(gate):
            let dx = try tape.allocate(columns: inputs)
            try engine.matmul(dz, w, transposeB: true, into: dx,
                              epilogue: .activationGradient(preActivation: gate.preActivation, activation: gate.activation))
            return dx
        }
    }

    private func requireColumns(_ x: Tensor) throws(OpenCLError) {
        guard x.columns == inputs else { throw .invalidRequest("Linear of \(inputs) inputs got \(x.rows)x\(x.columns)") }
    }
}
