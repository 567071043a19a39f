import OpenCLKit
import StepLabTestSupport
@testable import StepLabEngine

/// One recorded pass and backward of a time-conditioned network for the finite-difference checks: parameters drawn
/// uniformly in ±`bound` (the zero-initialised layers would otherwise hide every gradient behind them), inputs in
/// [-2, 2], times in [0, 1], and the loss sum(output * probe), all from one `TestRandom(seed:)` in that order.
struct NetworkPass {
    let network: any Network
    let tape: Tape
    let batch: Int
    let input: [Double]
    let times: [Float]
    let probe: [Float]
    let output: Tensor
    /// dL/d(input) as the network returns it.
    let inputGradient: Tensor
    /// The parameters the pass ran with, flat.
    let parameters: [Double]

    init(_ network: any Network, engine: Engine, batch: Int, times: Int = 1, seed: UInt64, bound: Float) throws {
        var random = TestRandom(seed: seed)
        try network.parameters.values.upload(random.array(network.parameters.count, -bound, bound))
        let x = random.array(batch * network.inputs, -2, 2), t = random.array(batch * times, 0, 1)
        probe = random.array(batch * network.outputs)
        tape = network.makeTape()
        let inputTensor = try engine.tensor(x, rows: batch, columns: network.inputs)
        output = try network.run(inputTensor, time: engine.tensor(t, rows: batch, columns: times), tape: tape)
        try network.parameters.zeroGradients(engine: engine)
        guard let dx = try network.backward(engine.tensor(probe, rows: batch, columns: network.outputs), tape: tape,
                                            inputGradientOf: inputTensor) else {
            throw OpenCLError.invalidRequest("the network returned no input gradient")
        }
        inputGradient = dx
        parameters = try network.parameters.values.download().map(Double.init)
        self.network = network; self.batch = batch; input = x.map(Double.init); self.times = t
    }

    /// Flat parameter values by tensor name (the references' form).
    func named(_ flat: [Double]) -> [String: [Double]] {
        Dictionary(uniqueKeysWithValues: network.parameters.entries.map { ($0.name, Array(flat[$0.offset ..< $0.offset + $0.count])) })
    }
}
