import Foundation
import StepLabData

/// One (configuration, seed) of the ablation.
struct AblationRow: Codable {
    var configuration: String
    var seed: Int
    var swd: Double
    var trainSeconds: Double?
    enum CodingKeys: String, CodingKey { case configuration, seed, swd, trainSeconds = "train_seconds" }
}

/// `bench ablation`'s results.json, and its report.
struct AblationResults: Codable {
    var variants: [MultistepAblation.Variant]
    var segments: [Int]
    var rows: [AblationRow]
    /// Mean SWD between two independent reference samples over the seeds.
    var noiseFloor: Double
    var intervals: [String: ConfidenceInterval] = [:]
    var comparisons: [StudyComparison] = []
    var config: [String: String] = [:]

    enum CodingKeys: String, CodingKey { case variants, segments, rows, noiseFloor = "noise_floor", intervals, comparisons, config }

    func comparison(_ a: String, _ b: String) -> StudyComparison? { comparisons.between(a, b) }

    /// A cell: the paired difference with its interval and verdict.
    func cell(_ a: String, _ b: String) -> String {
        guard let c = comparison(a, b) else { return "–" }
        return String(format: "%+.4f [%+.4f, %+.4f] %@", c.difference.estimate, c.difference.lower, c.difference.upper, c.verdict)
    }

    func markdown() -> String {
        var out = ["# Multistep CT ablation: why S = 4 and 8 do not close on diffusion", ""]
        out.append("Configuration: " + config.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: ", ") + ".")
        out.append("")
        out.append("Per seed, one diffusion teacher (the study's recipe and budget), then multistep CT from its EMA weights, once with the "
                   + "study's recipe and once per variant, each changing one thing. Same noise and the same bootstrap resamples for every "
                   + "model, so differences are paired; 95% intervals over seeds and samples (SWD on "
                   + "`SlicedWassersteinBootstrap`'s directions). A negative difference means the first is better.")
        out.append("")
        out.append(String(format: "Noise floor (SWD between two reference samples): %.4f.", noiseFloor))
        out.append("")
        out.append("| variant | change |")
        out.append("|---|---|")
        for variant in variants { out.append("| \(variant.name) | \(variant.change) |") }
        for s in segments {
            let teacher = MultistepAblation.teacher(steps: s), recipe = MultistepAblation.configuration(MultistepAblation.recipe.name, segments: s)
            out.append("")
            out.append("## S = \(s)")
            out.append("")
            out.append("Teacher: DDIM-\(s) " + (intervals[teacher]?.formatted() ?? "–") + ", DDIM-64 "
                       + (intervals[MultistepAblation.teacher(steps: 64)]?.formatted() ?? "–") + ".")
            out.append("")
            out.append("| variant | SWD | minus the recipe | minus the teacher's DDIM-\(s) |")
            out.append("|---|---|---|---|")
            for variant in variants {
                let name = MultistepAblation.configuration(variant.name, segments: s)
                out.append("| \(variant.name) | " + (intervals[name]?.formatted() ?? "diverged") + " | "
                           + (variant.name == MultistepAblation.recipe.name ? "–" : cell(name, recipe)) + " | " + cell(name, teacher) + " |")
            }
        }
        return out.joined(separator: "\n") + "\n"
    }
}
