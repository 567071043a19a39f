import Foundation
import OpenCLKit

/// AdamW with bias correction, decoupled weight decay and gradient clipping by global norm, over a
/// `ParameterStore` in one launch (`Kernels/optimizer.cl`). The gradient norm stays on the device; read it
/// with `gradientNorm()` only when logging.
public final class AdamW {
    public struct Hyperparameters: Sendable, Equatable, Codable {
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var epsilon: Float = 1e-8
        public var weightDecay: Float = 0
        /// Clip the global gradient norm to this; nil or <= 0 disables clipping.
        public var maxGradientNorm: Float? = nil
        public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0,
                    maxGradientNorm: Float? = nil) {
            self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
            self.weightDecay = weightDecay; self.maxGradientNorm = maxGradientNorm
        }
    }

    public let engine: Engine
    public let parameters: ParameterStore
    public var hyperparameters: Hyperparameters
    /// First and second moments, same layout as the parameters.
    public let firstMoment: Tensor
    public let secondMoment: Tensor
    /// Steps taken so far (the t of the bias correction).
    public private(set) var step: Int = 0
    /// Squared global gradient norm of the latest step (before clipping), on the device.
    let squaredNorm: Tensor

    public init(parameters: ParameterStore, engine: Engine, hyperparameters: Hyperparameters = .init()) throws(OpenCLError) {
        self.engine = engine
        self.parameters = parameters
        self.hyperparameters = hyperparameters
        firstMoment = try engine.tensor(filled: 0, rows: 1, columns: parameters.count)
        secondMoment = try engine.tensor(filled: 0, rows: 1, columns: parameters.count)
        squaredNorm = try engine.tensor(filled: 0, rows: 1, columns: 1)
    }

    /// Applies one update with learning rate `lr` from the gradients in `parameters.gradients`.
    public func update(lr: Float) throws(OpenCLError) {
        step += 1
        let h = hyperparameters
        let t = Double(step)
        let correction1 = Float(1 - pow(Double(h.beta1), t))
        let correction2 = Float(1 - pow(Double(h.beta2), t))
        try engine.sum(parameters.gradients, squared: true, into: squaredNorm)
        try engine.launch("optimizer.cl", "adamw_step", global: [parameters.count],
                          parameters.values.storage, parameters.gradients.storage, firstMoment.storage,
                          secondMoment.storage, lr, h.beta1, h.beta2, h.epsilon, h.weightDecay, correction1, correction2,
                          squaredNorm.storage, h.maxGradientNorm ?? 0)
    }

    /// The global gradient norm of the latest update, before clipping (a host read: waits for the device).
    public func gradientNorm() throws(OpenCLError) -> Float {
        try squaredNorm.download()[0].squareRoot()
    }

    /// Restores the moments and step count (for resuming a run).
    public func restore(step: Int, firstMoment m: [Float], secondMoment v: [Float]) throws(OpenCLError) {
        try firstMoment.upload(m)
        try secondMoment.upload(v)
        self.step = step
    }
}

/// Exponential moving average of a parameter store's values: ema <- d ema + (1 - d) p, with the warm-up
/// d = min(decay, (1 + n) / (10 + n)) after n updates (as diffusers' `EMAModel`), so a short run's average is not
/// dominated by the random initialisation (0.999^600 would still keep 55% of it).
public final class EMA {
    public let engine: Engine
    public let parameters: ParameterStore
    public var decay: Float
    /// The averaged parameters, same layout (pass to `MLP.forward(parameters:)` to sample with them).
    public let values: Tensor

    /// Starts the average at the current parameter values.
    public init(parameters: ParameterStore, engine: Engine, decay: Float) throws(OpenCLError) {
        self.engine = engine
        self.parameters = parameters
        self.decay = decay
        values = try engine.tensor(rows: 1, columns: parameters.count)
        try values.storage.copy(from: parameters.values.storage, sourceOffset: parameters.values.offset,
                                 offset: 0, length: parameters.count)
    }

    /// Updates applied so far.
    public private(set) var updates = 0

    /// The decay the next update uses.
    public var effectiveDecay: Float { Swift.min(decay, Float(1 + updates) / Float(10 + updates)) }

    /// Restores the average and its update count (for resuming a run).
    public func restore(values average: [Float], updates: Int) throws(OpenCLError) {
        try values.upload(average)
        self.updates = updates
    }

    public func update() throws(OpenCLError) {
        try engine.launch("optimizer.cl", "ema_update", global: [parameters.count], values.storage,
                          parameters.values.storage, effectiveDecay)
        updates += 1
    }
}

extension Reference {
    /// One AdamW step in float64, PyTorch's order (decay, then the Adam step).
    public static func adamw(parameters p: [Float], gradients g: [Float], m: [Float], v: [Float], step: Int, lr: Float,
                             _ h: AdamW.Hyperparameters) -> (p: [Float], m: [Float], v: [Float]) {
        let norm = g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        var scale = 1.0
        if let maxNorm = h.maxGradientNorm, maxNorm > 0 { scale = min(1, Double(maxNorm) / (norm + 1e-6)) }
        let (b1, b2) = (Double(h.beta1), Double(h.beta2))
        var (np, nm, nv) = (p, m, v)
        for i in p.indices {
            let gi = Double(g[i]) * scale
            let mi = b1 * Double(m[i]) + (1 - b1) * gi
            let vi = b2 * Double(v[i]) + (1 - b2) * gi * gi
            let mhat = mi / (1 - pow(b1, Double(step))), vhat = vi / (1 - pow(b2, Double(step)))
            np[i] = Float(Double(p[i]) * (1 - Double(lr) * Double(h.weightDecay)) - Double(lr) * mhat / (vhat.squareRoot() + Double(h.epsilon)))
            nm[i] = Float(mi); nv[i] = Float(vi)
        }
        return (np, nm, nv)
    }
}
