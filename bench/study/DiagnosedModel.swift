import StepLabEngine
import StepLabGenerative

/// A seed-0 model the diagnostics examine, with the weights its rows were scored with.
struct DiagnosedModel {
    /// Where the model lives, which says how it turns noise into samples.
    enum Space: Equatable {
        /// The VP schedule (diffusion, MCT, MCD): DDIM.
        case vp
        /// EDM sigma space, one jump from sigma_max: with the consistency boundary's scalings (CT, CD), or without (sCT).
        case edm(boundary: Bool)
        /// The flow z_t = (1 - t) x + t eps (MeanFlow, shortcut): one jump from t = 1, pure noise as on the VP schedule.
        case flow
    }

    let family: StudyFamily
    let segments: Int
    let model: Denoiser
    /// The step counts the exact-ODE table samples it at, on the VP schedule.
    let steps: [Int]
    /// The weights it is sampled with (the teacher's EMA); nil: the model's own, which hold its EMA.
    var parameters: Tensor? = nil

    var method: String { family.name }
    var space: Space { family.space }
}
