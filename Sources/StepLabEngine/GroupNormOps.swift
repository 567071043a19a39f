import Foundation
import OpenCLKit

/// A per-sample FiLM modulation (Perez et al. 2018) read from a conditioning matrix: sample n's scale is
/// `values[n, column ..< column + C]` and its shift `values[n, column + C ..< column + 2C]`, for C normalised
/// channels. Several norms' modulations sit side by side in one matrix, so one matmul makes all of them.
/// `sharedBy` consecutive normalised samples read one row (a DiT's tokens, each normalised alone, share their image's).
public struct Modulation {
    public let values: Tensor
    public let column: Int
    public let sharedBy: Int
    public init(values: Tensor, column: Int, sharedBy: Int = 1) { self.values = values; self.column = column; self.sharedBy = sharedBy }

    /// Whether every sample reads the one row: the kernels then read it at row stride 0, so the sample count does not
    /// enter their build options (a sampler's batch sizes would each build a program).
    var broadcast: Bool { values.rows == 1 }
    /// The kernels' MODR: samples per row, 1 for a broadcast row (stride 0).
    var rowsShared: Int { broadcast ? 1 : sharedBy }
}

/// How the GroupNorm kernels spread each sample over work-items.
public enum GroupNormVariant: String, Sendable, CaseIterable {
    /// One work-item per sample with every channel's sums in registers (`Kernels/groupnorm.cl`): for CPUs.
    case perSample
    /// One work-group per sample, per-channel sums in local memory (`Kernels/groupnorm_wg.cl`): for GPUs.
    case workGroup
}

/// GroupNorm without an affine of its own, then an optional FiLM and an activation (`Kernels/groupnorm.cl`), on
/// NHWC activations `(N * pixels) x C`: `y = act(xhat * (1 + scale[n]) + shift[n])`, xhat normalised over each
/// sample's pixels and `C / groups` consecutive channels. LayerNorm is one pixel and one group.
extension Engine {
    /// Writes y and the per-(sample, group) (mean, rstd) the backward needs into `stats` (2 values per group).
    public func groupNorm(_ x: Tensor, pixels: Int, groups: Int, modulation: Modulation? = nil, activation: Activation = .identity,
                          epsilon: Float = 1e-5, into y: Tensor, stats: Tensor) throws(OpenCLError) {
        try requireSameShape("groupNorm", x, y)
        let samples = try groupNormSamples(x, pixels: pixels, groups: groups, stats: stats)
        let mod = try modulationArguments(modulation, samples: samples, channels: x.columns, fallback: x)
        let shape = groupNormShape("groupnorm_forward", samples: samples, channels: x.columns, groups: groups, activation: activation,
                                   modulation: modulation)
        try launch(shape.file, shape.function, global: shape.global, local: shape.local, options: shape.options,
                   Int32(pixels), epsilon, mod.present, x.storage, x.kernelOffset,
                   y.storage, y.kernelOffset, stats.storage, stats.kernelOffset, mod.tensor.storage, mod.offset, mod.stride)
    }

    /// dL/dx of `groupNorm` from dL/dy, written to `dx` (added to it when `accumulate`); the modulation's gradient
    /// goes to `modulationGradient` in the modulation's layout (same column, same width).
    public func groupNormBackward(_ dy: Tensor, input x: Tensor, pixels: Int, groups: Int, stats: Tensor,
                                  modulation: Modulation? = nil, modulationGradient: Tensor? = nil,
                                  activation: Activation = .identity, accumulate: Bool = false, into dx: Tensor) throws(OpenCLError) {
        try requireSameShape("groupNormBackward", dy, x, dx)
        let samples = try groupNormSamples(x, pixels: pixels, groups: groups, stats: stats)
        let mod = try modulationArguments(modulation, samples: samples, channels: x.columns, fallback: x)
        var (dmod, dmodOffset, dmodStride) = (dx.storage, dx.kernelOffset, Int32(0))
        let shared = modulation?.sharedBy ?? 1
        if let modulation {
            guard let gradient = modulationGradient, gradient.sameShape(as: modulation.values) else {
                throw .invalidRequest("groupNormBackward: a modulated norm needs a modulation gradient of its conditioning's shape")
            }
            // Samples sharing a row write their own rows of scratch, summed below; otherwise straight into the slice.
            (dmod, dmodOffset, dmodStride) = shared == 1
                ? (gradient.storage, gradient.kernelOffset + Int32(modulation.column), Int32(gradient.columns))
                : (try scratch(count: samples * 2 * x.columns), 0, Int32(2 * x.columns))
        }
        let shape = groupNormShape("groupnorm_backward", samples: samples, channels: x.columns, groups: groups, activation: activation,
                                   modulation: modulation)
        try launch(shape.file, shape.function, global: shape.global, local: shape.local, options: shape.options,
                   Int32(pixels), mod.present, Int32(accumulate ? 1 : 0),
                   dy.storage, dy.kernelOffset, x.storage, x.kernelOffset, stats.storage, stats.kernelOffset,
                   mod.tensor.storage, mod.offset, mod.stride, dmod, dmodOffset, dmodStride, dx.storage, dx.kernelOffset)
        if let modulation, let gradient = modulationGradient, shared > 1 {
            try launch("reduce.cl", "row_segment_sums", global: [2 * x.columns, samples / shared], Int32(2 * x.columns), Int32(shared),
                       dmod, Int32(0), gradient.storage, gradient.kernelOffset + Int32(modulation.column), Int32(gradient.columns))
        }
    }

    /// d(`groupNorm`)/dε into `ty` from x's tangent `tx` and the modulation's tangent `modulationTangent` (a tensor of
    /// the conditioning's shape, read at the modulation's columns); a nil tangent is zero. `stats` are the forward's.
    public func groupNormTangent(_ x: Tensor, tangent tx: Tensor?, pixels: Int, groups: Int, stats: Tensor,
                                 modulation: Modulation? = nil, modulationTangent: Tensor? = nil,
                                 activation: Activation = .identity, into ty: Tensor) throws(OpenCLError) {
        try requireSameShape("groupNormTangent", x, ty)
        if let tx { try requireSameShape("groupNormTangent", x, tx) }
        let samples = try groupNormSamples(x, pixels: pixels, groups: groups, stats: stats)
        let mod = try modulationArguments(modulation, samples: samples, channels: x.columns, fallback: x)
        if let modulationTangent {
            guard let modulation, modulationTangent.sameShape(as: modulation.values) else {
                throw .invalidRequest("groupNormTangent: a modulation tangent needs a modulation of its shape")
            }
        }
        let hasTangent: Int32 = tx == nil ? 0 : 1
        let tmod = modulationTangent ?? x, tx = tx ?? x
        let shape = groupNormShape("groupnorm_tangent", samples: samples, channels: x.columns, groups: groups, activation: activation,
                                   modulation: modulation)
        try launch(shape.file, shape.function, global: shape.global, local: shape.local, options: shape.options,
                   Int32(pixels), mod.present, hasTangent, Int32(modulationTangent == nil ? 0 : 1),
                   x.storage, x.kernelOffset, tx.storage, tx.kernelOffset, stats.storage, stats.kernelOffset,
                   mod.tensor.storage, mod.offset, mod.stride,
                   tmod.storage, tmod.kernelOffset + (modulation.map { Int32($0.column) } ?? 0), ty.storage, ty.kernelOffset)
    }

    /// LayerNorm over each row: `groupNorm` with one pixel and one group; stats hold (mean, rstd) per row.
    public func layerNorm(_ x: Tensor, modulation: Modulation? = nil, activation: Activation = .identity,
                          epsilon: Float = 1e-5, into y: Tensor, stats: Tensor) throws(OpenCLError) {
        try groupNorm(x, pixels: 1, groups: 1, modulation: modulation, activation: activation, epsilon: epsilon, into: y, stats: stats)
    }

    /// The backward of `layerNorm` (see `groupNormBackward`).
    public func layerNormBackward(_ dy: Tensor, input x: Tensor, stats: Tensor, modulation: Modulation? = nil,
                                  modulationGradient: Tensor? = nil, activation: Activation = .identity,
                                  accumulate: Bool = false, into dx: Tensor) throws(OpenCLError) {
        try groupNormBackward(dy, input: x, pixels: 1, groups: 1, stats: stats, modulation: modulation,
                              modulationGradient: modulationGradient, activation: activation, accumulate: accumulate, into: dx)
    }

    /// One work-group per sample on CPUs (the driver would otherwise put a small batch in one group, on one core).
    private var perSample: [Int]? { device.kind == .cpu ? [1] : nil }

    /// Where and how one of the GroupNorm kernels runs in the engine's variant: its file, name, ranges and build options
    /// (the activation, channels and groups are compiled in; see the banner of `Kernels/groupnorm.cl`). A work-group
    /// per sample takes up to 256 work-items; where its local memory would not fit, the sample runs on one work-item.
    private func groupNormShape(_ kernel: String, samples: Int, channels: Int, groups: Int, activation: Activation, modulation: Modulation?)
        -> (file: String, function: String, global: [Int], local: [Int]?, options: String) {
        let options = "-D ACT=\(activation.rawValue) -D CH=\(channels) -D GROUPS=\(groups) -D MODR=\(modulation?.rowsShared ?? 1) -D VW=\(Self.vectorWidth(channels: channels))"
        let size = Swift.min(256, 1 << (Int.bitWidth - 1 - device.maxWorkGroupSize.leadingZeroBitCount))
        let localBytes = 4 * (2 * size + 2 * channels + 2 * groups)
        guard groupNormVariant == .workGroup, UInt64(localBytes) <= device.localMemoryBytes else {
            return ("groupnorm.cl", kernel, [samples], perSample, options)
        }
        return ("groupnorm_wg.cl", kernel + "_wg", [samples * size], [size], options + " -D WG=\(size)")
    }

    private func groupNormSamples(_ x: Tensor, pixels: Int, groups: Int, stats: Tensor) throws(OpenCLError) -> Int {
        guard pixels > 0, groups > 0, x.rows % pixels == 0, x.columns % groups == 0 else {
            throw .invalidRequest("groupNorm: \(x.rows)x\(x.columns) is not whole samples of \(pixels) pixels in \(groups) groups of channels")
        }
        let samples = x.rows / pixels
        guard stats.count == 2 * samples * groups else { throw .invalidRequest("groupNorm: stats must hold 2 values per group") }
        return samples
    }

    private func modulationArguments(_ modulation: Modulation?, samples: Int, channels: Int, fallback: Tensor) throws(OpenCLError)
        -> (present: Int32, tensor: Tensor, offset: Int32, stride: Int32) {
        guard let modulation else { return (0, fallback, fallback.kernelOffset, 0) }
        guard modulation.sharedBy > 0, modulation.values.rows * modulation.sharedBy == samples, modulation.column >= 0, modulation.column + 2 * channels <= modulation.values.columns else {
            throw .invalidRequest("modulation: columns \(modulation.column)..<\(modulation.column + 2 * channels) of a "
                                  + "\(modulation.values.rows)x\(modulation.values.columns) conditioning do not fit \(samples) samples of \(channels)")
        }
        let stride = modulation.broadcast ? 0 : Int32(modulation.values.columns)
        return (1, modulation.values, modulation.values.kernelOffset + Int32(modulation.column), stride)
    }
}

extension Reference {
    /// `Engine.groupNorm` in float64 on `(samples * pixels) x channels` values: y, and each group's mean and rstd
    /// (sample-major). `scale` and `shift` are samples x channels (nil: none).
    public static func groupNorm(_ x: [Double], pixels: Int, channels: Int, groups: Int, scale: [Double]? = nil, shift: [Double]? = nil,
                                 activation: Activation = .identity, epsilon: Double = 1e-5) -> (y: [Double], mean: [Double], rstd: [Double]) {
        let samples = x.count / (pixels * channels), width = channels / groups
        var y = [Double](repeating: 0, count: x.count), means = [Double](), rstds = [Double]()
        for n in 0 ..< samples {
            for g in 0 ..< groups {
                let indices = (0 ..< pixels).flatMap { p in (0 ..< width).map { (n * pixels + p) * channels + g * width + $0 } }
                let mean = indices.reduce(0) { $0 + x[$1] } / Double(indices.count)
                let variance = indices.reduce(0) { $0 + (x[$1] - mean) * (x[$1] - mean) } / Double(indices.count)
                let rstd = 1 / (variance + epsilon).squareRoot()
                means.append(mean); rstds.append(rstd)
                for i in indices {
                    let c = n * channels + i % channels
                    y[i] = activation.forward((x[i] - mean) * rstd * (1 + (scale?[c] ?? 0)) + (shift?[c] ?? 0))
                }
            }
        }
        return (y, means, rstds)
    }

    /// The adjoint of `groupNorm` in float64: dL/dx, and dL/dscale and dL/dshift (samples x channels each).
    public static func groupNormBackward(_ dy: [Double], _ x: [Double], pixels: Int, channels: Int, groups: Int, scale: [Double]? = nil,
                                         shift: [Double]? = nil, activation: Activation = .identity, epsilon: Double = 1e-5)
        -> (dx: [Double], dscale: [Double], dshift: [Double]) {
        let forward = groupNorm(x, pixels: pixels, channels: channels, groups: groups, scale: scale, shift: shift,
                                activation: activation, epsilon: epsilon)
        let samples = x.count / (pixels * channels), width = channels / groups
        var dx = [Double](repeating: 0, count: x.count)
        var dscale = [Double](repeating: 0, count: samples * channels), dshift = dscale
        for n in 0 ..< samples {
            for g in 0 ..< groups {
                let group = n * groups + g
                let indices = (0 ..< pixels).flatMap { p in (0 ..< width).map { (n * pixels + p) * channels + g * width + $0 } }
                var dxhat = [Double](), xhat = [Double]()
                for i in indices {
                    let c = n * channels + i % channels
                    let h = (x[i] - forward.mean[group]) * forward.rstd[group], s = scale?[c] ?? 0
                    let q = dy[i] * activation.derivative(h * (1 + s) + (shift?[c] ?? 0))
                    dscale[c] += q * h; dshift[c] += q
                    xhat.append(h); dxhat.append(q * (1 + s))
                }
                let a = dxhat.reduce(0, +) / Double(indices.count)
                let b = zip(dxhat, xhat).reduce(0) { $0 + $1.0 * $1.1 } / Double(indices.count)
                for (k, i) in indices.enumerated() { dx[i] = forward.rstd[group] * (dxhat[k] - a - xhat[k] * b) }
            }
        }
        return (dx, dscale, dshift)
    }

    /// LayerNorm over rows in float64: `groupNorm` with one pixel and one group.
    public static func layerNorm(_ x: [Double], rows: Int, columns: Int, scale: [Double]? = nil, shift: [Double]? = nil,
                                 activation: Activation = .identity, epsilon: Double = 1e-5) -> (y: [Double], mean: [Double], rstd: [Double]) {
        groupNorm(x, pixels: 1, channels: columns, groups: 1, scale: scale, shift: shift, activation: activation, epsilon: epsilon)
    }

    /// `layerNorm` on float32 values.
    public static func layerNorm(_ x: [Float], rows: Int, columns: Int, scale: [Float]? = nil, shift: [Float]? = nil,
                                 activation: Activation = .identity, epsilon: Double = 1e-5) -> (y: [Float], mean: [Double], rstd: [Double]) {
        let result = layerNorm(x.map(Double.init), rows: rows, columns: columns, scale: scale?.map(Double.init),
                               shift: shift?.map(Double.init), activation: activation, epsilon: epsilon)
        return (result.y.map(Float.init), result.mean, result.rstd)
    }

    /// The adjoint of `layerNorm` on float32 values.
    public static func layerNormBackward(_ dy: [Float], _ x: [Float], rows: Int, columns: Int, scale: [Float]? = nil,
                                         shift: [Float]? = nil, activation: Activation = .identity, epsilon: Double = 1e-5)
        -> (dx: [Float], dscale: [Float], dshift: [Float]) {
        let r = groupNormBackward(dy.map(Double.init), x.map(Double.init), pixels: 1, channels: columns, groups: 1,
                                  scale: scale?.map(Double.init), shift: shift?.map(Double.init), activation: activation, epsilon: epsilon)
        return (r.dx.map(Float.init), r.dscale.map(Float.init), r.dshift.map(Float.init))
    }
}
