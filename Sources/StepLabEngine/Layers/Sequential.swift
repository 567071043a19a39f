import OpenCLKit

/// Layers applied in order. Its backward hands each layer the gate of the one before, so activations fused
/// into a layer's forward are differentiated inside the next layer's input-gradient product.
public final class Sequential: Layer {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) { self.layers = layers }

    public func forward(_ x: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        var current = x
        for layer in layers { current = try layer.forward(current, tape: tape) }
        return current
    }

    public func outputGate(tape: Tape) throws(OpenCLError) -> Gate? { try layers.last?.outputGate(tape: tape) }

    public func backward(_ dy: Tensor, tape: Tape, input: InputGradient) throws(OpenCLError) -> Tensor? {
        var gradient: Tensor? = dy
        for index in layers.indices.reversed() {
            guard let dy = gradient else { break }
            let asked = index == 0 ? input : try InputGradient.from(layers[index - 1], tape: tape)
            gradient = try layers[index].backward(dy, tape: tape, input: asked)
        }
        return gradient
    }
}
