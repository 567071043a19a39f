import Foundation
import OpenCLKit

/// A per-sample distance between prediction and target (`Kernels/loss.cl`).
public enum LossKind: Sendable, Equatable {
    /// (1/d) ||p - y||^2 per sample.
    case squaredError
    /// sqrt(||p - y||^2 + c^2) - c per sample (iCT's pseudo-Huber; c = 0.00054 sqrt(d) there).
    case pseudoHuber(c: Float)

    var code: Int32 { if case .pseudoHuber = self { 1 } else { 0 } }
    var c: Float { if case let .pseudoHuber(c) = self { c } else { 0 } }
}

extension Engine {
    /// Writes each sample's weighted loss into `perSample` (rows x 1) and dL/dpred of the batch mean
    /// L = mean_i perSample_i into `gradient`. `weights` (rows x 1) defaults to 1.
    public func loss(_ kind: LossKind, prediction: Tensor, target: Tensor, weights: Tensor? = nil,
                     perSample: Tensor, gradient: Tensor) throws(OpenCLError) {
        try requireSameShape("loss", prediction, target, gradient)
        guard perSample.count == prediction.rows, weights.map({ $0.count == prediction.rows }) ?? true else {
            throw .invalidRequest("loss: per-sample outputs and weights need \(prediction.rows) values")
        }
        let w = weights ?? perSample
        try launch("loss.cl", "weighted_loss", global: [prediction.rows], kind.code, Int32(prediction.columns),
                   1 / Float(prediction.rows), kind.c, prediction.storage, prediction.kernelOffset,
                   target.storage, target.kernelOffset, w.storage, w.kernelOffset, Int32(weights == nil ? 0 : 1),
                   perSample.storage, perSample.kernelOffset, gradient.storage, gradient.kernelOffset)
    }
}

extension Reference {
    /// Per-sample losses and the gradient of their mean, in float64.
    public static func loss(_ kind: LossKind, prediction: [Float], target: [Float], weights: [Float]?, rows: Int, columns: Int)
        -> (perSample: [Float], gradient: [Float]) {
        var perSample = [Float](repeating: 0, count: rows)
        var gradient = [Float](repeating: 0, count: rows * columns)
        for i in 0..<rows {
            let w = Double(weights?[i] ?? 1)
            let errors = (0..<columns).map { Double(prediction[i * columns + $0]) - Double(target[i * columns + $0]) }
            let squares = errors.reduce(0) { $0 + $1 * $1 }
            switch kind {
            case .squaredError:
                perSample[i] = Float(w * squares / Double(columns))
                for j in 0..<columns { gradient[i * columns + j] = Float(2 * w * errors[j] / Double(columns * rows)) }
            case let .pseudoHuber(c):
                let r = (squares + Double(c) * Double(c)).squareRoot()
                perSample[i] = Float(w * (r - Double(c)))
                for j in 0..<columns { gradient[i * columns + j] = Float(r > 0 ? w * errors[j] / (r * Double(rows)) : 0) }
            }
        }
        return (perSample, gradient)
    }
}

extension Engine {
    /// Softmax cross-entropy of `logits` (rows x classes) against integer `labels` (one per row, in
    /// `0 ..< classes`): each row's loss into `perSample`, dL/dlogits of the batch mean into `gradient`, and 1 or
    /// 0 into `correct` as the row's largest logit is its label or not (`Kernels/loss.cl`).
    public func softmaxCrossEntropy(logits: Tensor, labels: Buffer<Int32>, labelsOffset: Int = 0,
                                    perSample: Tensor, gradient: Tensor, correct: Tensor) throws(OpenCLError) {
        try requireSameShape("softmaxCrossEntropy", logits, gradient)
        guard perSample.count == logits.rows, correct.count == logits.rows, labelsOffset + logits.rows <= labels.count else {
            throw .invalidRequest("softmaxCrossEntropy: \(logits.rows) rows need as many labels, losses and correct flags")
        }
        try launch("loss.cl", "softmax_cross_entropy", global: [logits.rows], Int32(logits.columns), 1 / Float(logits.rows),
                   logits.storage, logits.kernelOffset, labels, Int32(labelsOffset), perSample.storage, perSample.kernelOffset,
                   gradient.storage, gradient.kernelOffset, correct.storage, correct.kernelOffset)
    }
}

extension Reference {
    /// Softmax cross-entropy per row, the gradient of its batch mean and the correct flags, in float64.
    public static func softmaxCrossEntropy(logits: [Float], labels: [Int], rows: Int, classes: Int)
        -> (perSample: [Float], gradient: [Float], correct: [Float]) {
        var perSample = [Float](repeating: 0, count: rows), correct = perSample
        var gradient = [Float](repeating: 0, count: rows * classes)
        for i in 0 ..< rows {
            let z = (0 ..< classes).map { Double(logits[i * classes + $0]) }
            let top = z.max()!
            let lse = top + log(z.reduce(0) { $0 + exp($1 - top) })
            perSample[i] = Float(lse - z[labels[i]])
            for j in 0 ..< classes { gradient[i * classes + j] = Float((exp(z[j] - lse) - (j == labels[i] ? 1 : 0)) / Double(rows)) }
            correct[i] = z.firstIndex(of: top) == labels[i] ? 1 : 0
        }
        return (perSample, gradient, correct)
    }
}
