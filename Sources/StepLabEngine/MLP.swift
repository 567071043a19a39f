import Foundation
import OpenCLKit

/// Shape of a multilayer perceptron: `inputs -> width (x depth hidden layers) -> outputs`.
public struct MLPConfig: Sendable, Equatable, Codable {
    public var inputs: Int
    public var width: Int
    /// Number of hidden layers (so depth + 1 linear layers).
    public var depth: Int
    public var outputs: Int
    public var activation: Activation

    public init(inputs: Int, width: Int, depth: Int, outputs: Int, activation: Activation = .silu) {
        self.inputs = inputs; self.width = width; self.depth = depth; self.outputs = outputs; self.activation = activation
    }

    /// (fan in, fan out) of each linear layer.
    public var layerSizes: [(Int, Int)] {
        let widths = [inputs] + Array(repeating: width, count: depth) + [outputs]
        return (0 ..< widths.count - 1).map { (widths[$0], widths[$0 + 1]) }
    }
}

/// Activations an MLP keeps for one batch size: what the backward needs, and scratch for its gradients.
public final class MLPWorkspace {
    public let batch: Int
    /// Pre-activations Z_l and activations H_l of each hidden layer.
    let pre: [Tensor]
    let hidden: [Tensor]
    /// The network output of the last forward.
    public let output: Tensor
    /// The last hidden layer's activations of the last forward (a classifier's features); the input when the
    /// network has no hidden layer.
    public var features: Tensor { hidden.last ?? input! }
    /// Two buffers the backward alternates between for dL/dZ.
    let gradient: [Tensor]
    /// The input of the last forward (kept by reference for the weight gradient of layer 0).
    var input: Tensor?

    init(engine: Engine, config: MLPConfig, batch: Int) throws(OpenCLError) {
        self.batch = batch
        pre = try (0 ..< config.depth).map { _ throws(OpenCLError) in try engine.tensor(rows: batch, columns: config.width) }
        hidden = try (0 ..< config.depth).map { _ throws(OpenCLError) in try engine.tensor(rows: batch, columns: config.width) }
        output = try engine.tensor(rows: batch, columns: config.outputs)
        let widest = max(config.width, config.outputs)
        gradient = try (0 ..< 2).map { _ throws(OpenCLError) in try engine.tensor(rows: batch, columns: widest) }
    }
}

/// A multilayer perceptron on the device. Layer l computes H = act(H_prev . W_l + b_l) (identity on the last
/// layer). Weights are stored `fan_in x fan_out` (the transpose of PyTorch's `Linear.weight`), named
/// `layers.L.weight` and `layers.L.bias`.
public final class MLP {
    public let engine: Engine
    public let config: MLPConfig
    public let parameters: ParameterStore
    let weights: [ParameterStore.Entry]
    let biases: [ParameterStore.Entry]

    /// A network with PyTorch's default `Linear` initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights
    /// and biases, drawn from a generator seeded by `seed`.
    public init(engine: Engine, config: MLPConfig, seed: UInt64) throws(OpenCLError) {
        guard config.inputs > 0, config.width > 0, config.depth >= 0, config.outputs > 0 else {
            throw .invalidRequest("MLP needs positive sizes (got \(config.inputs)-\(config.width)x\(config.depth)-\(config.outputs))")
        }
        self.engine = engine
        self.config = config
        var shapes: [(name: String, rows: Int, columns: Int)] = []
        for (l, (fanIn, fanOut)) in config.layerSizes.enumerated() {
            shapes.append(("layers.\(l).weight", fanIn, fanOut))
            shapes.append(("layers.\(l).bias", 1, fanOut))
        }
        let store = try ParameterStore(engine: engine, shapes: shapes)
        parameters = store
        weights = stride(from: 0, to: store.entries.count, by: 2).map { store.entries[$0] }
        biases = stride(from: 1, to: store.entries.count, by: 2).map { store.entries[$0] }

        var random = HostRandom(seed: seed)
        var initial: [String: [Float]] = [:]
        for (l, (fanIn, fanOut)) in config.layerSizes.enumerated() {
            let bound = 1 / Float(fanIn).squareRoot()
            initial["layers.\(l).weight"] = (0 ..< fanIn * fanOut).map { _ in random.uniform(-bound, bound) }
            initial["layers.\(l).bias"] = (0 ..< fanOut).map { _ in random.uniform(-bound, bound) }
        }
        try store.load(initial)
    }

    /// Buffers for batches of `batch` rows; reuse one per call site so no step allocates.
    public func makeWorkspace(batch: Int) throws(OpenCLError) -> MLPWorkspace {
        try MLPWorkspace(engine: engine, config: config, batch: batch)
    }

    /// Runs the network on `input` (batch x inputs) with the parameters in `flat` (default: the live values;
    /// pass an EMA copy to sample with it). Returns `workspace.output`.
    @discardableResult
    public func forward(_ input: Tensor, workspace: MLPWorkspace, parameters flat: Tensor? = nil) throws(OpenCLError) -> Tensor {
        guard input.rows == workspace.batch, input.columns == config.inputs else {
            throw .invalidRequest("MLP input is \(input.rows)x\(input.columns), expected \(workspace.batch)x\(config.inputs)")
        }
        let flat = flat ?? parameters.values
        workspace.input = input
        var current = input
        for l in 0 ..< config.depth {
            try engine.matmul(current, parameters.view(weights[l], in: flat), into: workspace.hidden[l],
                              epilogue: .biasActivation(bias: parameters.view(biases[l], in: flat),
                                                        activation: config.activation, preActivation: workspace.pre[l]))
            current = workspace.hidden[l]
        }
        try engine.matmul(current, parameters.view(weights[config.depth], in: flat), into: workspace.output,
                          epilogue: .biasActivation(bias: parameters.view(biases[config.depth], in: flat),
                                                    activation: .identity, preActivation: nil))
        return workspace.output
    }

    /// Backpropagates dL/d(output) through the last `forward` on `workspace`, writing every parameter gradient
    /// into `parameters.gradients` (overwriting). When `inputGradient` is given, dL/d(input) is written there.
    public func backward(outputGradient: Tensor, workspace: MLPWorkspace, inputGradient: Tensor? = nil) throws(OpenCLError) {
        guard let input = workspace.input else { throw .invalidRequest("MLP backward before forward") }
        try requireSameShape("MLP backward", outputGradient, workspace.output)
        let grads = parameters.gradients
        var dZ = outputGradient
        for l in stride(from: config.depth, through: 0, by: -1) {
            let below = l == 0 ? input : workspace.hidden[l - 1]
            try engine.matmul(below, transposeA: true, dZ, into: parameters.view(weights[l], in: grads))
            try engine.columnSums(dZ, into: parameters.view(biases[l], in: grads))
            let w = try parameters.view(weights[l], in: parameters.values)
            if l > 0 {
                let next = try workspace.gradient[l % 2].storageView(rows: workspace.batch, columns: config.width)
                try engine.matmul(dZ, w, transposeB: true, into: next,
                                  epilogue: .activationGradient(preActivation: workspace.pre[l - 1], activation: config.activation))
                dZ = next
            } else if let inputGradient {
                try engine.matmul(dZ, w, transposeB: true, into: inputGradient)
            }
        }
    }
}

extension Tensor {
    /// The first `rows x columns` elements of this tensor's span (for scratch buffers sized to the widest use).
    func storageView(rows: Int, columns: Int) throws(OpenCLError) -> Tensor {
        try Tensor(storage: storage, offset: offset, rows: rows, columns: columns)
    }
}

/// A small seeded generator for host-side initialisation (SplitMix64, Steele et al. 2014).
public struct HostRandom: Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(Double(next() >> 11) / Double(UInt64(1) << 53))
    }
}

extension Reference {
    /// The MLP's forward in float64 from named parameters (as `ParameterStore.export` gives them).
    public static func mlpForward(_ config: MLPConfig, parameters: [String: [Double]], input: [Double], batch: Int) -> [Double] {
        var current = input
        for (l, (fanIn, fanOut)) in config.layerSizes.enumerated() {
            let w = parameters["layers.\(l).weight"]!, b = parameters["layers.\(l).bias"]!
            let last = l == config.depth
            var next = [Double](repeating: 0, count: batch * fanOut)
            for i in 0 ..< batch {
                for j in 0 ..< fanOut {
                    var z = b[j]
                    for p in 0 ..< fanIn { z += current[i * fanIn + p] * w[p * fanOut + j] }
                    next[i * fanOut + j] = last ? z : config.activation.forward(z)
                }
            }
            current = next
        }
        return current
    }
}
