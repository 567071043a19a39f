import StepLabGenerative

/// A seed-0 model the diagnostics examine, with the EMA weights its rows were scored with.
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

    let method: String
    let segments: Int
    let model: Denoiser
    let space: Space
}
