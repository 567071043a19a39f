import OpenCLKit

/// A whole network: layers composed over one `ParameterStore`, run through a `Tape`. A network is its forward: the
/// backward and the forward-mode tangents are derived from the ops the forward records.
public protocol Network: AnyObject {
    var engine: Engine { get }
    var parameters: ParameterStore { get }
    /// Columns of the input and of the output.
    var inputs: Int { get }
    var outputs: Int { get }
    /// The output for `input` (batch x inputs) in the pass begun on `tape`; `time` (batch x 1) conditions
    /// time-conditioned networks and is ignored by the others.
    func forward(_ input: Tensor, time: Tensor?, tape: Tape) throws(OpenCLError) -> Tensor
}

extension Network {
    /// A tape for one call site of this network.
    public func makeTape() -> Tape { Tape(engine: engine, store: parameters) }

    /// Begins a pass on `tape` and runs the network: with `parameters` (default: the live values; pass an EMA
    /// copy to sample with it), recording for a backward when `recording`.
    @discardableResult
    public func run(_ input: Tensor, time: Tensor? = nil, tape: Tape, parameters: Tensor? = nil,
                    recording: Bool = true) throws(OpenCLError) -> Tensor {
        try tape.begin(batch: input.rows, parameters: parameters, recording: recording)
        return try forward(input, time: time, tape: tape)
    }

    /// Adds dL/dθ for `outputGradient` (dL/d(output) of the last recorded forward on `tape`) into the parameter
    /// gradients; returns dL/d(`inputGradientOf`) when given (batch rows; a U-Net's covers the image columns it reads).
    @discardableResult
    public func backward(_ outputGradient: Tensor, tape: Tape, inputGradientOf input: Tensor? = nil) throws(OpenCLError) -> Tensor? {
        let gradients = try tape.backward(outputGradient, inputGradients: input.map { [$0] } ?? [])
        guard let dx = gradients.first ?? nil else { return nil }
        return try dx.reshaped(rows: tape.batch, columns: dx.count / tape.batch)
    }

    /// The output and its directional derivative along (`tangent`, `timeTangent`) in one pass on `tape`: each op runs
    /// its primal and its tangent rule together (`TapeOp`), with the parameters held constant. `tangent` has the
    /// input's shape and `timeTangent` the times' (nil: zero). With `recording`, the pass is also recorded, so a
    /// backward of the output follows; the tangent is not part of that record: a loss that uses it treats it as a
    /// constant (a stop-gradient, as sCM and MeanFlow do), so no second-order derivative is ever needed.
    public func jvp(_ input: Tensor, tangent: Tensor, time: Tensor? = nil, timeTangent: Tensor? = nil, tape: Tape,
                    parameters: Tensor? = nil, recording: Bool = false) throws(OpenCLError) -> (output: Tensor, tangent: Tensor) {
        guard tangent.sameShape(as: input) else {
            throw .invalidRequest("jvp: a tangent of \(tangent.rows)x\(tangent.columns) for an input of \(input.rows)x\(input.columns)")
        }
        if let timeTangent {
            guard let time, timeTangent.sameShape(as: time) else {
                throw .invalidRequest("jvp: a time tangent of \(timeTangent.rows)x\(timeTangent.columns) for times of "
                                      + (time.map { "\($0.rows)x\($0.columns)" } ?? "none"))
            }
        }
        try tape.begin(batch: input.rows, parameters: parameters, recording: recording, tangents: true)
        try tape.setTangent(tangent, of: input)
        if let time, let timeTangent { try tape.setTangent(timeTangent, of: time) }
        let output = try forward(input, time: time, tape: tape)
        if let derivative = tape.tangent(of: output) { return (output, try derivative.reshaped(rows: output.rows, columns: output.columns)) }
        let zero = try tape.allocate(rows: output.rows, columns: output.columns)
        try engine.fill(zero, 0)
        return (output, zero)
    }
}
