import OpenCLKit
import StepLabData
import StepLabEngine

/// The multistep consistency loss of one segment [tStep, tStep + 1/S] of the time axis, measured on a trained
/// model: how hard that segment's jump is to learn.
public struct SegmentLoss: Sendable, Equatable, Codable {
    /// The segment's lower time boundary, i / S (its jump lands at t = tStep).
    public var tStep: Double
    /// Mean of the training objective (SNR + 1 weighted pseudo-Huber) over the segment's draws.
    public var loss: Double
    /// Root mean square of |x-prediction - target| per coordinate, unweighted, in the model's units: the error
    /// of the jump itself, free of the weight's growth towards the data.
    public var rmsError: Double
    /// Draws that fell in this segment.
    public var count: Int

    enum CodingKeys: String, CodingKey { case tStep = "t_step", loss, rmsError = "rms_error", count }
}

extension MultistepConsistencyObjective {
    /// The objective of Algorithm 1 split by segment: `batches` minibatches from `source` (training steps
    /// `firstStep`, `firstStep + 1`, ...) at iteration `iteration`'s teacher steps, binned by the segment each
    /// draw's t fell in. Ordered by tStep ascending (data first). Computes gradients as a training step does,
    /// and leaves the weights alone.
    public func lossBySegment(source: any BatchSource, batches: Int, firstStep: Int,
                              iteration: Int) throws(OpenCLError) -> [SegmentLoss] {
        let segments = config.segments, d = model.config.dimension
        var loss = [Double](repeating: 0, count: segments), squares = loss, counts = [Int](repeating: 0, count: segments)
        let x0 = try model.engine.tensor(rows: t.rows, columns: d)
        for b in 0 ..< batches {
            try source.fill(x0, step: firstStep + b)
            // The objective draws its times from the step's counter; the anneal follows `iteration`.
            _ = try computeGradients(x0: x0, step: firstStep + b, teacherStepsAt: iteration)
            let lower = try tStep.download(), perRow = try perSample.download()
            let predicted = try xhat.download(), wanted = try target.download()
            for row in 0 ..< t.rows {
                let segment = Swift.min(segments - 1, Swift.max(0, Int((Double(lower[row]) * Double(segments)).rounded())))
                loss[segment] += Double(perRow[row])
                for j in 0 ..< d {
                    let e = Double(predicted[row * d + j] - wanted[row * d + j])
                    squares[segment] += e * e
                }
                counts[segment] += 1
            }
        }
        return (0 ..< segments).map { i in
            let n = Swift.max(counts[i], 1)
            return SegmentLoss(tStep: Double(i) / Double(segments), loss: loss[i] / Double(n),
                               rmsError: (squares[i] / Double(n * d)).squareRoot(), count: counts[i])
        }
    }
}
