import Foundation
import OpenCLKit

/// A per-sample FiLM modulation (Perez et al. 2018) read from a conditioning matrix: row r's scale is
/// `values[r, column ..< column + C]` and its shift `values[r, column + C ..< column + 2C]`, for C normalised
/// features. Several blocks' modulations sit side by side in one matrix, so one matmul makes all of them.
public struct Modulation {
    public let values: Tensor
    public let column: Int
    public init(values: Tensor, column: Int) { self.values = values; self.column = column }
}

/// LayerNorm without an affine of its own, then an optional FiLM and an activation (`Kernels/layernorm.cl`):
/// `y = act(xhat * (1 + scale) + shift)`, `xhat = (x - mean) / sqrt(var + eps)` per row.
extension Engine {
    /// Writes y and the per-row (mean, rstd) the backward needs into `stats` (rows x 2).
    public func layerNorm(_ x: Tensor, modulation: Modulation? = nil, activation: Activation = .identity,
                          epsilon: Float = 1e-5, into y: Tensor, stats: Tensor) throws(OpenCLError) {
        try requireSameShape("layerNorm", x, y)
        guard stats.count == 2 * x.rows else { throw .invalidRequest("layerNorm: stats must hold 2 values per row") }
        let mod = try modulationArguments(modulation, rows: x.rows, features: x.columns, fallback: x)
        try launch("layernorm.cl", "layernorm_forward", global: [x.rows], options: activationOption(activation),
                   Int32(x.columns), epsilon, mod.present, x.storage, x.kernelOffset, y.storage, y.kernelOffset,
                   stats.storage, stats.kernelOffset, mod.tensor.storage, mod.offset, mod.stride)
    }

    /// dL/dx of `layerNorm` from dL/dy, written to `dx` (added to it when `accumulate`); the modulation's
    /// gradient goes to `modulationGradient` in the modulation's layout (same column, same width).
    public func layerNormBackward(_ dy: Tensor, input x: Tensor, stats: Tensor, modulation: Modulation? = nil,
                                  modulationGradient: Tensor? = nil, activation: Activation = .identity,
                                  accumulate: Bool = false, into dx: Tensor) throws(OpenCLError) {
        try requireSameShape("layerNormBackward", dy, x, dx)
        guard stats.count == 2 * x.rows else { throw .invalidRequest("layerNormBackward: stats must hold 2 values per row") }
        let mod = try modulationArguments(modulation, rows: x.rows, features: x.columns, fallback: x)
        var dmod = dx
        if let modulation {
            guard let gradient = modulationGradient, gradient.sameShape(as: modulation.values) else {
                throw .invalidRequest("layerNormBackward: a modulated LayerNorm needs a modulation gradient of its conditioning's shape")
            }
            dmod = gradient
        }
        try launch("layernorm.cl", "layernorm_backward", global: [x.rows], options: activationOption(activation),
                   Int32(x.columns), mod.present, Int32(accumulate ? 1 : 0), dy.storage, dy.kernelOffset, x.storage, x.kernelOffset,
                   stats.storage, stats.kernelOffset, mod.tensor.storage, mod.offset, mod.stride,
                   dmod.storage, dmod.kernelOffset + (modulation.map { Int32($0.column) } ?? 0), dx.storage, dx.kernelOffset)
    }

    /// The activation is compiled in (see the banner of `Kernels/layernorm.cl`).
    private func activationOption(_ activation: Activation) -> String { "-D ACT=\(activation.rawValue)" }

    private func modulationArguments(_ modulation: Modulation?, rows: Int, features: Int, fallback: Tensor) throws(OpenCLError)
        -> (present: Int32, tensor: Tensor, offset: Int32, stride: Int32) {
        guard let modulation else { return (0, fallback, fallback.kernelOffset, 0) }
        guard modulation.values.rows == rows, modulation.column >= 0, modulation.column + 2 * features <= modulation.values.columns else {
            throw .invalidRequest("modulation: columns \(modulation.column)..<\(modulation.column + 2 * features) of a "
                                  + "\(modulation.values.rows)x\(modulation.values.columns) conditioning do not fit \(rows) rows of \(features)")
        }
        return (1, modulation.values, modulation.values.kernelOffset + Int32(modulation.column), Int32(modulation.values.columns))
    }
}

extension Reference {
    /// `Engine.layerNorm` in float64: y, and each row's mean and rstd. `scale` and `shift` are rows x C (nil: none).
    public static func layerNorm(_ x: [Float], rows: Int, columns: Int, scale: [Float]? = nil, shift: [Float]? = nil,
                                 activation: Activation = .identity, epsilon: Double = 1e-5) -> (y: [Float], mean: [Double], rstd: [Double]) {
        let result = layerNorm(x.map(Double.init), rows: rows, columns: columns, scale: scale?.map(Double.init),
                               shift: shift?.map(Double.init), activation: activation, epsilon: epsilon)
        return (result.y.map(Float.init), result.mean, result.rstd)
    }

    /// `layerNorm` entirely in float64 (for finite differences through whole networks).
    public static func layerNorm(_ x: [Double], rows: Int, columns: Int, scale: [Double]? = nil, shift: [Double]? = nil,
                                 activation: Activation = .identity, epsilon: Double = 1e-5) -> (y: [Double], mean: [Double], rstd: [Double]) {
        var y = [Double](repeating: 0, count: x.count), means = [Double](), rstds = [Double]()
        for r in 0 ..< rows {
            let row = x[r * columns ..< (r + 1) * columns]
            let mean = row.reduce(0, +) / Double(columns)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(columns)
            let rstd = 1 / (variance + epsilon).squareRoot()
            means.append(mean); rstds.append(rstd)
            for j in 0 ..< columns {
                let i = r * columns + j
                let m = (x[i] - mean) * rstd * (1 + (scale?[i] ?? 0)) + (shift?[i] ?? 0)
                y[i] = activation.forward(m)
            }
        }
        return (y, means, rstds)
    }

    /// The adjoint of `layerNorm` in float64: dL/dx, and dL/dscale and dL/dshift (rows x C each).
    public static func layerNormBackward(_ dy: [Float], _ x: [Float], rows: Int, columns: Int, scale: [Float]? = nil,
                                         shift: [Float]? = nil, activation: Activation = .identity, epsilon: Double = 1e-5)
        -> (dx: [Float], dscale: [Float], dshift: [Float]) {
        let forward = layerNorm(x, rows: rows, columns: columns, scale: scale, shift: shift, activation: activation, epsilon: epsilon)
        var dx = [Float](repeating: 0, count: x.count), dscale = dx, dshift = dx
        for r in 0 ..< rows {
            var dxhat = [Double](repeating: 0, count: columns), xhat = dxhat
            for j in 0 ..< columns {
                let i = r * columns + j
                xhat[j] = (Double(x[i]) - forward.mean[r]) * forward.rstd[r]
                let s = Double(scale?[i] ?? 0)
                let g = Double(dy[i]) * activation.derivative(xhat[j] * (1 + s) + Double(shift?[i] ?? 0))
                dscale[i] = Float(g * xhat[j]); dshift[i] = Float(g)
                dxhat[j] = g * (1 + s)
            }
            let a = dxhat.reduce(0, +) / Double(columns)
            let b = zip(dxhat, xhat).reduce(0) { $0 + $1.0 * $1.1 } / Double(columns)
            for j in 0 ..< columns { dx[r * columns + j] = Float(forward.rstd[r] * (dxhat[j] - a - xhat[j] * b)) }
        }
        return (dx, dscale, dshift)
    }
}
