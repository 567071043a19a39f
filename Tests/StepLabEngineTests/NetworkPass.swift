import OpenCLKit
import StepLabTestSupport
import Testing
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

    /// An image network's pass against its float64 twin `reference(parameters, input)`: the forward, three entries of
    /// every parameter tensor (first, middle, last) and the input gradient of the image columns by central
    /// differences; the columns after the image (emb(t), which an image network does not read) get none.
    func expectMatchesImageReference(imageColumns image: Int, _ reference: ([String: [Double]], [Double]) -> [Double]) throws {
        let (inputs, flat) = (network.inputs, parameters)
        func loss(_ p: [Double], _ x: [Double]) -> Double { LayerGradientTests.probed(reference(named(p), x), probe) }
        expectClose(try output.download(), reference(named(flat), input).map(Float.init), rtol: 1e-4, atol: 1e-5, "forward")
        let gradients = try network.parameters.gradients.download()
        for entry in network.parameters.entries {
            for i in Set([entry.offset, entry.offset + entry.count / 2, entry.offset + entry.count - 1]) {
                var plus = flat, minus = flat
                plus[i] += 1e-5; minus[i] -= 1e-5
                let numeric = Float((loss(plus, input) - loss(minus, input)) / 2e-5)
                expectClose([gradients[i]], [numeric], rtol: 2e-3, atol: 2e-5, "\(entry.name)[\(i - entry.offset)]")
            }
        }
        let numericInput = centralDifferences(at: input) { loss(flat, $0) }
        let imageColumns = (0 ..< batch).flatMap { n in numericInput[n * inputs ..< n * inputs + image] }
        expectClose(try inputGradient.download(), Array(imageColumns), rtol: 2e-3, atol: 2e-5, "input gradients")
        #expect((0 ..< batch).allSatisfy { n in numericInput[n * inputs + image ..< (n + 1) * inputs].allSatisfy { $0 == 0 } })
    }

    /// Flat parameter values by tensor name (the references' form).
    func named(_ flat: [Double]) -> [String: [Double]] {
        Dictionary(uniqueKeysWithValues: network.parameters.entries.map { ($0.name, Array(flat[$0.offset ..< $0.offset + $0.count])) })
    }
}
