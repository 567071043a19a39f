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

/// A multilayer perceptron: `Linear` layers `layers.L` with the activation fused into each hidden one
/// (H = act(H_prev . W_l + b_l), identity on the last). Weights are stored `fan_in x fan_out` (the transpose of
/// PyTorch's `Linear.weight`), named `layers.L.weight` and `layers.L.bias`.
public final class MLP: Network {
    public let engine: Engine
    public let config: MLPConfig
    public let parameters: ParameterStore
    let body: Sequential
    public var inputs: Int { config.inputs }
    public var outputs: Int { config.outputs }

    /// A network with PyTorch's default `Linear` initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights
    /// and biases, drawn from a generator seeded by `seed`.
    public init(engine: Engine, config: MLPConfig, seed: UInt64) throws(OpenCLError) {
        guard config.inputs > 0, config.width > 0, config.depth >= 0, config.outputs > 0 else {
            throw .invalidRequest("MLP needs positive sizes (got \(config.inputs)-\(config.width)x\(config.depth)-\(config.outputs))")
        }
        self.engine = engine
        self.config = config
        var layout = ParameterLayout()
        let sizes = config.layerSizes
        body = Sequential(sizes.enumerated().map { l, size in
            Linear("layers.\(l)", inputs: size.0, outputs: size.1, activation: l == sizes.count - 1 ? .identity : config.activation,
                   layout: &layout)
        })
        parameters = try ParameterStore(engine: engine, layout: layout, seed: seed)
    }

    public func forward(_ input: Tensor, time: Tensor? = nil, tape: Tape) throws(OpenCLError) -> Tensor {
        guard input.rows == tape.batch, input.columns == config.inputs else {
            throw .invalidRequest("MLP input is \(input.rows)x\(input.columns), expected \(tape.batch)x\(config.inputs)")
        }
        var h = input
        for layer in body.layers.dropLast() { h = try layer.forward(h, tape: tape) }
        tape.save([h], for: self)
        return try body.layers[body.layers.count - 1].forward(h, tape: tape)
    }

    /// The last hidden layer's activations of the last recorded forward on `tape` (a classifier's features; the
    /// input when the network has no hidden layer).
    public func features(tape: Tape) throws(OpenCLError) -> Tensor {
        try tape.saved(for: self)[0]
    }
}

extension Reference {
    /// The MLP's forward in float64 from named parameters (as `ParameterStore.export` gives them).
    public static func mlpForward(_ config: MLPConfig, parameters: [String: [Double]], input: [Double], batch: Int) -> [Double] {
        var current = input
        for (l, (fanIn, fanOut)) in config.layerSizes.enumerated() {
            current = linear(current, batch: batch, inputs: fanIn, outputs: fanOut, weight: parameters["layers.\(l).weight"]!,
                             bias: parameters["layers.\(l).bias"]!, activation: l == config.depth ? .identity : config.activation)
        }
        return current
    }

    /// act(x . W + b) in float64, W stored inputs x outputs.
    public static func linear(_ x: [Double], batch: Int, inputs: Int, outputs: Int, weight: [Double], bias: [Double],
                              activation: Activation = .identity) -> [Double] {
        var y = [Double](repeating: 0, count: batch * outputs)
        for i in 0 ..< batch {
            for j in 0 ..< outputs {
                var z = bias[j]
                for p in 0 ..< inputs { z += x[i * inputs + p] * weight[p * outputs + j] }
                y[i * outputs + j] = activation.forward(z)
            }
        }
        return y
    }
}
