import Foundation
import StepLabData
import StepLabGenerative

/// One (configuration, seed) of the study: the `results.json` row.
struct StudyRow: Codable {
    var method: String
    var segments: Int
    var steps: Int
    var sampler: String
    var seed: Int
    var swd: Double
    var mmd: Double
    var energy: Double
    var diverged: Bool
    var lossNoise: Double?
    var gradSpikes: Int?
    var trainSeconds: Double?
    var evaluationsPerSample: Double
    /// Image data: Frechet distance and KID on the classifier's features, and the classes covered.
    var fd: Double? = nil
    var kid: Double? = nil
    var classesCovered: Int? = nil

    enum CodingKeys: String, CodingKey {
        case method, segments, steps, sampler, seed, swd, mmd, energy, diverged, fd, kid
        case lossNoise = "loss_noise", gradSpikes = "grad_spikes", trainSeconds = "train_seconds"
        case evaluationsPerSample = "evaluations_per_sample", classesCovered = "classes_covered"
    }

    /// The distance the study's rules compare: FD where it was measured (images), else SWD.
    var primary: Double { fd ?? swd }

    /// The configuration this row belongs to (everything but the seed).
    var configuration: String { Self.configuration(method, segments: segments, sampler: sampler, steps: steps) }

    /// The name of a configuration, as rows, summaries, intervals and comparisons key it: `mct S=4 ddim-4`.
    static func configuration(_ method: String, segments: Int, sampler: String = "ddim", steps: Int? = nil) -> String {
        "\(method) S=\(segments) \(sampler)-\(steps ?? segments)"
    }
}

/// Mean, spread and divergence count of one configuration over seeds.
struct StudySummary: Codable {
    var configuration: String
    var method: String
    var segments: Int
    var steps: Int
    var sampler: String
    var seeds: Int
    var diverged: Int
    var swdMean: Double, swdStd: Double
    var mmdMean: Double, mmdStd: Double
    var energyMean: Double, energyStd: Double
    var lossNoiseMean: Double?
    var gradSpikesTotal: Int?
    var trainSecondsMean: Double?
    var evaluationsPerSample: Double
    /// Mean and std of `StudyRow.primary` (FD for images, SWD otherwise), what the report's rules compare.
    var primaryMean: Double, primaryStd: Double
    var fdMean: Double? = nil, kidMean: Double? = nil, classesCoveredMean: Double? = nil

    static func of(_ rows: [StudyRow]) -> [StudySummary] {
        var order: [String] = []
        var groups: [String: [StudyRow]] = [:]
        for row in rows {
            if groups[row.configuration] == nil { order.append(row.configuration) }
            groups[row.configuration, default: []].append(row)
        }
        return order.map { key in
            let group = groups[key]!
            let kept = group.filter { !$0.diverged }
            func stats(_ values: [Double]) -> (Double, Double) {
                guard !values.isEmpty else { return (.nan, .nan) }
                let mean = values.reduce(0, +) / Double(values.count)
                guard values.count > 1 else { return (mean, 0) }
                let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)
                return (mean, variance.squareRoot())
            }
            let swd = stats(kept.map(\.swd)), mmd = stats(kept.map(\.mmd)), energy = stats(kept.map(\.energy))
            let primary = stats(kept.map(\.primary))
            func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
            let noise = group.compactMap(\.lossNoise).filter(\.isFinite)
            let seconds = group.compactMap(\.trainSeconds)
            let first = group[0]
            return StudySummary(
                configuration: key, method: first.method, segments: first.segments, steps: first.steps, sampler: first.sampler,
                seeds: group.count, diverged: group.count - kept.count, swdMean: swd.0, swdStd: swd.1, mmdMean: mmd.0,
                mmdStd: mmd.1, energyMean: energy.0, energyStd: energy.1,
                lossNoiseMean: noise.isEmpty ? nil : noise.reduce(0, +) / Double(noise.count),
                gradSpikesTotal: group.compactMap(\.gradSpikes).isEmpty ? nil : group.compactMap(\.gradSpikes).reduce(0, +),
                trainSecondsMean: seconds.isEmpty ? nil : seconds.reduce(0, +) / Double(seconds.count),
                evaluationsPerSample: group.map(\.evaluationsPerSample).reduce(0, +) / Double(group.count),
                primaryMean: primary.0, primaryStd: primary.1, fdMean: mean(kept.compactMap(\.fd)), kidMean: mean(kept.compactMap(\.kid)),
                classesCoveredMean: mean(kept.compactMap(\.classesCovered).map(Double.init)))
        }
    }
}

/// Everything `bench study` measured; written as `results.json`.
struct StudyResults: Codable {
    var device: String
    var commit: String
    var date: String
    var config: [String: String]
    var study: [StudyRow]
    var summary: [StudySummary]
    var noiseFloor: MetricReport
    var divergenceBound: MetricReport
    var diagnostics: Diagnostics?
    var sampling: [SamplingThroughput]
    var kernels: KernelsReport?
    /// Image data: the same image metrics for as many training images as samples (mean over seeds).
    var imageNoiseFloor: ImageQualityReport? = nil
    /// Bootstrap intervals of each configuration's distance the rules compare (SWD, or FD for images; and of the
    /// noise floor, "noise floor"), and of the paired differences the verdicts rest on.
    var intervals: [String: ConfidenceInterval] = [:]
    /// Images: bootstrap intervals of each configuration's KID (against the whole reference).
    var kidIntervals: [String: ConfidenceInterval] = [:]
    var comparisons: [StudyComparison] = []
    var teacherGate: TeacherGate? = nil
    /// The best model at 1, 2 and 4 steps and its paired differences against the rest (`StudyRanking`).
    var rankings: [StudyRanking] = []

    enum CodingKeys: String, CodingKey {
        case device, commit, date, config, study, summary, diagnostics, sampling, kernels, intervals, comparisons, rankings
        case kidIntervals = "kid_intervals"
        case noiseFloor = "noise_floor", divergenceBound = "divergence_bound", imageNoiseFloor = "image_noise_floor"
        case teacherGate = "teacher_gate"
    }

    /// The name of the distance the rules compare, and its noise floor.
    var metricName: String { imageNoiseFloor == nil ? "SWD" : "FD" }
    var primaryFloor: Double { imageNoiseFloor?.frechetDistance ?? noiseFloor.swd }
}

struct SamplingThroughput: Codable {
    var sampler: String
    var steps: Int
    var batch: Int
    var samplesPerSecond: Double
    /// Peak bytes of StepLab's device buffers while sampling (model, noise, sampler workspaces), and the bench
    /// process's peak resident host memory (nil where it cannot be reset).
    var deviceBytes: Int? = nil
    var hostPeakBytes: Int? = nil
    enum CodingKeys: String, CodingKey {
        case sampler, steps, batch, samplesPerSecond = "samples_per_s", deviceBytes = "device_bytes", hostPeakBytes = "host_peak_bytes"
    }
}

/// The "why" measurements.
struct Diagnostics: Codable {
    /// Path length over chord length of the teacher's PF-ODE trajectories, overall and per segment, for S = 1, 2, 4, 8.
    var curvature: [CurvatureRow] = []
    /// DDIM steps of the trajectories the curvature is measured on, and how many trajectories.
    var trajectorySteps = 256, trajectories = 512
    /// Each multistep CT model's loss per segment, beside the curvature of the same segments.
    var segmentLosses: [SegmentLossRow] = []
    /// Mean distance of each model's output to the exact PF-ODE map from the same noise (analytic mixtures only).
    var exactODEError: [ExactODERow] = []
    /// Relative variance E|g - mean g|^2 / |mean g|^2 of the multistep-CT gradient at fixed parameters.
    var gradientVariance: [GradientVarianceRow] = []
    /// Each newer recipe's gradient variance as trained and under the variants its probe compares (`GradientSpreadProbe`).
    var probes: [GradientProbeRow] = []
    /// Fraction of DDIM steps until the x-prediction stays within `epsilon` of its final value.
    var x0Convergence: X0Convergence?
    var earlyExit: EarlyExitRow?
}

struct CurvatureRow: Codable {
    var segments: Int
    var pathOverChord: [Double]
    var chordPerJump: [Double]
    enum CodingKeys: String, CodingKey { case segments, pathOverChord = "path_over_chord", chordPerJump = "chord_per_jump" }
}

struct SegmentLossRow: Codable {
    var method: String
    var segments: Int
    /// Ordered by t_step ascending: the segment nearest the data first.
    var perSegment: [SegmentLoss]
    enum CodingKeys: String, CodingKey { case method, segments, perSegment = "per_segment" }
}

struct ExactODERow: Codable {
    var method: String
    var segments: Int
    var steps: Int
    var meanDistance: Double
    /// 95% bootstrap interval of the mean over the trajectories.
    var interval: ConfidenceInterval? = nil
    enum CodingKeys: String, CodingKey { case method, segments, steps, meanDistance = "mean_distance", interval }
}

/// Multistep CT's gradient relative variance over minibatches at `segments`.
struct GradientVarianceRow: Codable {
    var segments: Int
    var relativeVariance: Double
    var batches: Int
    /// 95% jackknife interval over the minibatches.
    var interval: ConfidenceInterval? = nil
    enum CodingKeys: String, CodingKey { case segments, relativeVariance = "relative_variance", batches, interval }
}

/// A recipe's gradient relative variance over minibatches under one variant of its objective (`GradientSpreadProbe`).
struct GradientProbeRow: Codable {
    var method: String
    var variant: String
    var relativeVariance: Double
    var batches: Int
    /// 95% jackknife interval over the minibatches.
    var interval: ConfidenceInterval? = nil
    enum CodingKeys: String, CodingKey { case method, variant, relativeVariance = "relative_variance", batches, interval }
}

struct X0Convergence: Codable {
    var steps: Int
    var epsilon: Double
    var meanFraction: Double
    var medianFraction: Double
    enum CodingKeys: String, CodingKey { case steps, epsilon, meanFraction = "mean_fraction", medianFraction = "median_fraction" }
}

struct EarlyExitRow: Codable {
    var steps: Int
    var meanEvaluations: Double
    var swdEarlyExit: Double
    var swdFull: Double
    enum CodingKeys: String, CodingKey {
        case steps, meanEvaluations = "mean_evaluations", swdEarlyExit = "swd_early_exit", swdFull = "swd_full"
    }
}

/// The studies of one run over several data sets: the top-level `results.json`.
struct StudyCollection: Codable {
    struct Entry: Codable {
        var data: String
        /// Its folder (report.md, results.json, figures) under the run's.
        var folder: String
        var results: StudyResults
    }

    var dataSets: [Entry]
    enum CodingKeys: String, CodingKey { case dataSets = "data_sets" }
}
