import OpenCLKit

/// A whole network: layers composed over one `ParameterStore`, run through a `Tape`.
public protocol Network: AnyObject {
    var engine: Engine { get }
    var parameters: ParameterStore { get }
    /// Columns of the input and of the output.
    var inputs: Int { get }
    var outputs: Int { get }
    /// The output for `input` (batch x inputs) in the pass begun on `tape`; `time` (batch x 1) conditions
    /// time-conditioned networks and is ignored by the others.
    func forward(_ input: Tensor, time: Tensor?, tape: Tape) throws(OpenCLError) -> Tensor
    /// Adds dL/dθ for `outputGradient` (dL/d(output) of the last forward on `tape`) into the parameter gradients;
    /// returns dL/d(input) when `inputGradient`.
    func backward(_ outputGradient: Tensor, tape: Tape, inputGradient: Bool) throws(OpenCLError) -> Tensor?
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
}
