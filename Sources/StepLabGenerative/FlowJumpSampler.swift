import OpenCLKit
import StepLabEngine

/// Sampling of a network that jumps along the flow z_t = (1 - t) x + t eps, conditioned on the time and the jump's
/// length: `steps` jumps z <- z - h net(z, t, h) with h = 1 / steps on the uniform grid from t = 1 to 0. It is
/// MeanFlow's z_r = z_t - (t - r) u(z_t, r, t), whose network reads (t, t - r), and a shortcut model's
/// z_{t - d} = z_t - d s(z_t, t, d), whose network reads (t, d); one step is z_0 = z_1 - net(z_1, 1, 1).
public struct FlowJumpSampler {
    public let model: Denoiser
    public init(model: Denoiser) { self.model = model }

    /// Samples from `noise` (rows x d) with the live parameters or `parameters` (an EMA copy).
    public func sample(noise: Tensor, steps: Int, parameters: Tensor? = nil) throws(OpenCLError) -> Tensor {
        guard steps >= 1 else { throw .invalidRequest("flow sampling needs at least one step (got \(steps))") }
        let engine = model.engine, rows = noise.rows, h = 1 / Float(steps)
        let z = try engine.tensor(rows: rows, columns: noise.columns)
        try engine.scale(1, noise, into: z)
        let input = try engine.tensor(rows: rows, columns: model.config.inputs)
        let t = try engine.tensor(rows: rows, columns: 1), times = try engine.tensor(rows: rows, columns: 2)
        let tape = model.makeTape()
        tape.timesShared = true  // every jump fills its times with one (t, h)
        for i in 0 ..< steps {
            let start = 1 - Float(i) * h
            try engine.fill(t, start)
            try times.upload([Float]((0 ..< rows).map { _ in [start, h] }.joined()))
            try engine.networkInput(z, t: t, scale: model.config.timeScale, into: input)
            let jump = try model.network.run(input, time: times, tape: tape, parameters: parameters, recording: false)
            try engine.axpy(-h, jump, z)
        }
        return z
    }
}
