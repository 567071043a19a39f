import StepLabData

/// Whether the diffusion teacher has learned the data well enough to judge S.
///
/// With intervals: the teacher's excess over the noise floor, its 64-step distance (SWD, or FD for images) minus the
/// floor's, each the mean over `draws` noise and floor draws per seed (2-D data; images take one), paired by seed and
/// resample and bias-corrected, must be at most `threshold - 1` times the floor at the interval's upper end: the
/// teacher is within `threshold` times the floor with 95% confidence. A ratio of two single draws would not do: on
/// the checkerboard the floor alone moves 1.5x between reference draws, and one noise draw's mean can sit 3 standard
/// errors off. Without intervals (an image file, whose floor has its own reference): the mean distance within
/// `threshold` times the floor's.
struct TeacherGate: Codable {
    var metric: String
    /// The table's mean over seeds (256 directions for SWD).
    var teacherDistance: Double
    var noiseFloor: Double
    var threshold: Double = 2
    /// The teacher's excess over the floor on the intervals' distance, with its interval (nil without intervals).
    var excess: ConfidenceInterval? = nil
    /// The floor on the intervals' distance, the unit of the allowance.
    var intervalFloor: Double? = nil
    /// Noise draws (and floor draws) per seed that the excess averages.
    var draws: Int? = nil

    var ratio: Double { teacherDistance / noiseFloor }
    /// The largest excess the rule allows.
    var allowance: Double? { intervalFloor.map { (threshold - 1) * $0 } }
    var passes: Bool {
        if let excess, let allowance { return excess.upper <= allowance }
        return ratio <= threshold
    }

    enum CodingKeys: String, CodingKey {
        case metric, teacherDistance = "teacher_distance", noiseFloor = "noise_floor", threshold, ratio, passes, excess
        case intervalFloor = "interval_floor", allowance, draws
    }

    init(metric: String, teacherDistance: Double, noiseFloor: Double, threshold: Double = 2, excess: ConfidenceInterval? = nil,
         intervalFloor: Double? = nil, draws: Int? = nil) {
        self.metric = metric; self.teacherDistance = teacherDistance; self.noiseFloor = noiseFloor; self.threshold = threshold
        self.excess = excess; self.intervalFloor = intervalFloor; self.draws = draws
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(metric: try c.decode(String.self, forKey: .metric), teacherDistance: try c.decode(Double.self, forKey: .teacherDistance),
                  noiseFloor: try c.decode(Double.self, forKey: .noiseFloor), threshold: try c.decode(Double.self, forKey: .threshold),
                  excess: try c.decodeIfPresent(ConfidenceInterval.self, forKey: .excess),
                  intervalFloor: try c.decodeIfPresent(Double.self, forKey: .intervalFloor), draws: try c.decodeIfPresent(Int.self, forKey: .draws))
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(metric, forKey: .metric)
        try c.encode(teacherDistance, forKey: .teacherDistance)
        try c.encode(noiseFloor, forKey: .noiseFloor)
        try c.encode(threshold, forKey: .threshold)
        try c.encode(ratio, forKey: .ratio)
        try c.encode(passes, forKey: .passes)
        try c.encodeIfPresent(excess, forKey: .excess)
        try c.encodeIfPresent(intervalFloor, forKey: .intervalFloor)
        try c.encodeIfPresent(allowance, forKey: .allowance)
        try c.encodeIfPresent(draws, forKey: .draws)
    }

    /// The report's sentence: what was measured, the rule, and what follows.
    var sentence: String {
        let verdict = passes ? "so the teacher has learned the data and S can be judged."
            : "so this budget is too small to judge S: the verdicts below compare under-fit models and are not drawn."
        guard let excess, let allowance, let intervalFloor else {
            return String(format: "Teacher gate: 64-step diffusion scores %@ %.4f, %.2fx the noise floor (%.4f); ", metric, teacherDistance, ratio, noiseFloor)
                + (passes ? String(format: "within %.0fx, ", threshold) : String(format: "more than %.0fx, ", threshold)) + verdict
        }
        let averaged = draws.map { $0 > 1 ? "each the mean over \($0) noise and floor draws per seed, " : "" } ?? ""
        return String(format: "Teacher gate: 64-step diffusion's %@ exceeds the noise floor by %@ (%@95%% interval paired by seed and resample, "
                      + "bias-corrected; table %@ %.4f against a floor of %.4f). Rule: the teacher must be within %.0fx the floor with 95%% "
                      + "confidence, so the interval's upper end at most %.0f x the floor on the intervals' %@ (%.4f) = %.4f. It is %@, ",
                      metric, excess.formatted(), averaged, metric, teacherDistance, noiseFloor, threshold, threshold - 1, metric, intervalFloor,
                      allowance, passes ? "within" : "not") + verdict
    }
}
