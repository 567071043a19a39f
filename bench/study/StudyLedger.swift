import Foundation
import StepLabData
import StepLabGenerative

/// What a study run has gathered so far: every scored row, each seed's floors, the divergence bound, and the seed-0
/// models the diagnostics read; with the progress its log lines count.
struct StudyLedger {
    var rows: [StudyRow] = []
    var floors: [MetricReport] = []
    var imageFloors: [ImageQualityReport] = []
    /// A Gaussian fit's distances (seed 0's reference): a consistency model worse than twice it diverged.
    var bound = MetricReport(swd: 0, mmd: 0, energy: 0, count: 0)
    /// Seed 0's diffusion trainer (its EMA is the diagnostics' teacher) and its models, with the EMA weights.
    var firstTeacher: Trainer?
    var firstModels: [DiagnosedModel] = []
    /// Evaluations expected and done, for the log's estimate of the time left.
    let total: Int
    var completed = 0
    let started = Date()

    init(total: Int) { self.total = total }

    /// Seconds left at the pace so far.
    var eta: Double { Date().timeIntervalSince(started) / Double(Swift.max(completed, 1)) * Double(total - completed) }
}
