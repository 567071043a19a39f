import OpenCLKit

/// Layers applied in order.
public final class Sequential: Layer {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) { self.layers = layers }

    public func forward(_ x: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        var current = x
        for layer in layers { current = try layer.forward(current, tape: tape) }
        return current
    }
}
