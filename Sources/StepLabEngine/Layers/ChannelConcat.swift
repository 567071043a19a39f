import OpenCLKit

/// The U-Net's skip join: `[upsample(h), skip]` along the channels of NHWC activations on `height x width` images,
/// the path from below upsampled `upsample`x (nearest neighbour) in the same copy (`Engine.placeChannels`). No
/// parameters; its backward splits the gradient (`Engine.gatherChannels`), its tangent joins the tangents.
public final class ChannelConcat {
    public let height: Int
    public let width: Int
    public let upsample: Int

    public init(height: Int, width: Int, upsample: Int) { self.height = height; self.width = width; self.upsample = upsample }

    /// `[upsample(h), skip]`, `(samples * height * width) x (Ch + Cs)`.
    public func forward(_ h: Tensor, _ skip: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        let joined = try tape.allocate(rows: skip.rows, columns: h.columns + skip.columns)
        try place(h, skip, into: joined, engine: tape.engine)
        try tape.record(Join(layer: self, h: h, skip: skip), inputs: [h, skip], output: joined, parameterized: false)
        return joined
    }

    private func place(_ h: Tensor, _ skip: Tensor, into joined: Tensor, engine: Engine) throws(OpenCLError) {
        try engine.placeChannels(h, into: joined, column: 0, height: height, width: width, upsample: upsample)
        try engine.placeChannels(skip, into: joined, column: h.columns, height: height, width: width)
    }

    /// The recorded join.
    struct Join: TapeOp {
        let layer: ChannelConcat
        let h: Tensor
        let skip: Tensor

        /// Each input's slice of the gradient, summed over the upsampled blocks for the path from below.
        func backward(_ dy: Tensor, pass: BackwardPass) throws(OpenCLError) {
            for (input, column, factor) in [(h, 0, layer.upsample), (skip, h.columns, 1)] {
                let sink = try pass.sink(for: input)
                guard let target = sink.tensor else { continue }
                try pass.engine.gatherChannels(dy, column: column, height: layer.height, width: layer.width, upsample: factor,
                                               accumulate: sink.accumulates, into: target)
                try sink.finish(engine: pass.engine)
            }
        }

        /// The tangents joined the same way (a missing one is zero).
        func tangent(_ tape: Tape) throws(OpenCLError) -> Tensor? {
            let dh = tape.tangent(of: h), ds = tape.tangent(of: skip)
            guard dh != nil || ds != nil else { return nil }
            let joined = try tape.allocate(rows: skip.rows, columns: h.columns + skip.columns)
            if dh == nil || ds == nil { try tape.engine.fill(joined, 0) }
            if let dh { try tape.engine.placeChannels(dh, into: joined, column: 0, height: layer.height, width: layer.width,
                                                      upsample: layer.upsample) }
            if let ds { try tape.engine.placeChannels(ds, into: joined, column: h.columns, height: layer.height, width: layer.width) }
            return joined
        }
    }
}
