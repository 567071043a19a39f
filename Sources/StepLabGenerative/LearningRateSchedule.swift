import Foundation

/// The learning rate over a run: a linear warm-up from zero over `warmupSteps`, then either the base rate
/// (`constant`) or a cosine decay to zero at `totalSteps` (Loshchilov & Hutter 2017, without restarts).
public struct LearningRateSchedule: Sendable, Equatable, Codable {
    public enum Decay: String, Sendable, Codable, CaseIterable {
        case constant
        case cosine
    }

    public var decay: Decay
    public var warmupSteps: Int
    /// The step the cosine reaches zero (the run's iterations).
    public var totalSteps: Int

    public init(decay: Decay = .constant, warmupSteps: Int = 0, totalSteps: Int = 0) {
        self.decay = decay; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }

    /// The base rate unchanged at every step.
    public static let constant = LearningRateSchedule()

    /// The rate for the update of step `step` (0-based).
    public func rate(base: Float, at step: Int) -> Float {
        if step < warmupSteps { return base * Float(step + 1) / Float(warmupSteps) }
        switch decay {
        case .constant:
            return base
        case .cosine:
            let span = Swift.max(1, totalSteps - warmupSteps)
            let progress = Swift.min(1, Double(step - warmupSteps) / Double(span))
            return base * Float(0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}
