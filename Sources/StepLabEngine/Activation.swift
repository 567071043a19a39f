import Foundation
import OpenCLKit

/// The activations the kernels implement; `rawValue` is the `act` argument of `Kernels/activations.cl`.
public enum Activation: Int32, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case identity = 0, relu = 1, silu = 2, gelu = 3, tanh = 4

    public var description: String {
        switch self {
        case .identity: "identity"
        case .relu: "relu"
        case .silu: "silu"
        case .gelu: "gelu"
        case .tanh: "tanh"
        }
    }

    /// Parses a name as printed by `description`.
    public init?(name: String) {
        guard let match = Activation.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = match
    }

    /// The activation, in float64 (the CPU reference).
    public func forward(_ z: Double) -> Double {
        switch self {
        case .identity: return z
        case .relu: return Swift.max(z, 0)
        case .silu: return z / (1 + Foundation.exp(-z))
        case .gelu: return 0.5 * z * (1 + Foundation.tanh(Self.geluU(z)))
        case .tanh: return Foundation.tanh(z)
        }
    }

    /// Its derivative at the pre-activation `z`, in float64 (ReLU's is 0 at 0, as in PyTorch).
    public func derivative(_ z: Double) -> Double {
        switch self {
        case .identity: return 1
        case .relu: return z > 0 ? 1 : 0
        case .silu:
            let s = 1 / (1 + Foundation.exp(-z))
            return s * (1 + z * (1 - s))
        case .gelu:
            let t = Foundation.tanh(Self.geluU(z))
            return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * Self.geluK * (1 + 3 * Self.geluA * z * z)
        case .tanh:
            let t = Foundation.tanh(z)
            return 1 - t * t
        }
    }

    static let geluK = 0.7978845608028654  // sqrt(2/pi)
    static let geluA = 0.044715
    static func geluU(_ z: Double) -> Double { geluK * (z + geluA * z * z * z) }
}

extension Engine {
    /// y = act(x), elementwise.
    public func activate(_ x: Tensor, _ activation: Activation, into y: Tensor) throws(OpenCLError) {
        try requireSameShape("activate", x, y)
        try launch("activations.cl", "activation_forward", global: [y.count], activation.rawValue,
                   x.storage, x.kernelOffset, y.storage, y.kernelOffset)
    }

    /// dz = dy * act'(z), elementwise.
    public func activationBackward(preActivation z: Tensor, gradient dy: Tensor, _ activation: Activation,
                                   into dz: Tensor) throws(OpenCLError) {
        try requireSameShape("activationBackward", z, dy, dz)
        try launch("activations.cl", "activation_backward", global: [dz.count], activation.rawValue,
                   z.storage, z.kernelOffset, dy.storage, dy.kernelOffset, dz.storage, dz.kernelOffset)
    }
}

extension Reference {
    public static func activate(_ x: [Float], _ activation: Activation) -> [Float] {
        x.map { Float(activation.forward(Double($0))) }
    }
    public static func activationBackward(_ z: [Float], _ dy: [Float], _ activation: Activation) -> [Float] {
        zip(z, dy).map { Float(Double($1) * activation.derivative(Double($0))) }
    }
}
