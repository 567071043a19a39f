import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// Measurements that explain the study's numbers, on seed 0's models.
struct StudyDiagnostics {
    let study: Study
    let teacher: Trainer
    /// Seed 0's models, with their EMA weights loaded.
    let models: [DiagnosedModel]
    /// The SWD of 64-step DDIM from seed 0's noise against seed 0's reference when the study already scored it (nil:
    /// the early-exit comparison samples it).
    var fullDDIMDistance: Double? = nil
    var engine: Engine { study.engine }
    /// Trajectories per diagnostic: 512, or 128 for images, whose U-Net evaluations cost a CPU about 1000x a
    /// 2-D MLP's.
    var count: Int { Swift.min(study.spec.imageShape == nil ? 512 : 128, study.settings.samples) }
    var trajectorySteps: Int { study.spec.imageShape == nil ? 256 : 64 }
    /// Minibatches behind each gradient variance.
    var gradientBatches: Int { study.settings.gradientBatches ?? (study.spec.imageShape == nil ? 64 : 32) }

    func run() throws -> Diagnostics {
        var result = Diagnostics()
        let noise = try engine.tensor(rows: count, columns: study.spec.dimension)
        try engine.normal(into: noise, key: RandomKey(seed: 77, stream: .diagnosticsNoise))
        let trajectory = try teacherTrajectory(noise: noise, steps: trajectorySteps)
        (result.trajectorySteps, result.trajectories) = (trajectorySteps, count)
        result.curvature = [1, 2, 4, 8].map { curvature(trajectory, segments: $0) }
        for row in result.curvature {
            study.log("  curvature S=\(row.segments): path/chord " + row.pathOverChord.map { String(format: "%.3f", $0) }.joined(separator: " "))
        }
        result.segmentLosses = try segmentLosses()
        result.exactODEError = try exactODEError(noise: noise)
        result.gradientVariance = try gradientVariance()
        result.probes = try probes()
        result.x0Convergence = try x0Convergence(noise: noise)
        result.earlyExit = try earlyExit()
        return result
    }

    /// z at t = 1, (N-1)/N, ..., 1/N and the final x-prediction, per step: [step][sample * d].
    func teacherTrajectory(noise: Tensor, steps: Int) throws -> [[Float]] {
        var path: [[Float]] = []
        _ = try VPSampler(model: teacher.model).sample(noise: noise, steps: steps, parameters: teacher.ema?.values) { step, z, xhat in
            path.append(try z.download())
            if step == 1 { path.append(try xhat.download()) }
        }
        return path
    }

    /// Path length over chord length of each of S equal segments of the trajectories (mean over samples).
    func curvature(_ path: [[Float]], segments: Int) -> CurvatureRow {
        let d = study.spec.dimension, steps = path.count - 1
        var ratios: [Double] = [], chords: [Double] = []
        for segment in 0 ..< segments {
            let from = segment * steps / segments, to = (segment + 1) * steps / segments
            var ratio = 0.0, chordSum = 0.0
            for sample in 0 ..< count {
                let points = (from ... to).map { k in (0 ..< d).map { Double(path[k][sample * d + $0]) } }
                ratio += TrajectoryGeometry.pathOverChord(points)
                chordSum += TrajectoryGeometry.distance(points[0], points[points.count - 1])
            }
            ratios.append(ratio / Double(count))
            chords.append(chordSum / Double(count))
        }
        return CurvatureRow(segments: segments, pathOverChord: ratios, chordPerJump: chords)
    }

    /// Each multistep CT model's own loss split by segment (S = 1, 2, 4, 8, the curvature's S), at its final
    /// teacher steps, on minibatches it never trained on.
    func segmentLosses() throws -> [SegmentLossRow] {
        let batches = study.spec.imageShape == nil ? 32 : 8
        let source = try study.spec.source(engine: engine, normalization: study.normalization, seed: 33)
        return try models.filter { $0.family.examinations.contains(.segmentLoss) && [1, 2, 4, 8].contains($0.segments) }.map { diagnosed in
            let (method, segments, model) = (diagnosed.method, diagnosed.segments, diagnosed.model)
            let objective = try MultistepConsistencyObjective(
                model: model, config: MultistepConfig(segments: segments, annealSteps: study.settings.fineTuning / 2),
                batch: study.settings.batch, seed: 34)
            let losses = try objective.lossBySegment(source: source, batches: batches, firstStep: 0, iteration: study.settings.fineTuning)
            study.log("  \(method) S=\(segments) loss per segment (noise first): "
                      + losses.reversed().map { String(format: "%.4g (rms %.3f)", $0.loss, $0.rmsError) }.joined(separator: ", "))
            return SegmentLossRow(method: method, segments: segments, perSegment: losses)
        }
    }

    /// The exact PF-ODE map for an analytic Gaussian mixture, by DDIM with the exact posterior mean E[x | z_t]
    /// in float64 over 2048 steps, against each model's output from the same noise (standardised units).
    func exactODEError(noise: Tensor) throws -> [ExactODERow] {
        guard case let .toy(set) = study.spec, let mixture = set.gaussianMixture else { return [] }
        let d = noise.columns, norm = study.normalization
        let means = mixture.means.map { m in (0 ..< d).map { Double((m[$0] - norm.mean[$0]) / norm.std[$0]) } }
        let stds = (0 ..< d).map { Double(mixture.std / norm.std[$0]) }
        let start = try noise.download().map(Double.init)
        // Each trajectory on its own, on every core.
        func perSample(_ map: @Sendable (Int) -> [Double]) -> [Double] { parallelMap(count, map).flatMap { $0 } }
        let exact = perSample { sample in TrajectoryGeometry.exactMap(Array(start[sample * d ..< (sample + 1) * d]), means: means, stds: stds) }
        var rows: [ExactODERow] = []
        // One-step CT, CD and sCT (EDM sigma space) start from sigma_max times the same noise; their exact map is the
        // EDM flow's from there.
        let edm = ConsistencyConfig(totalIterations: study.settings.budget).edm
        var exactEDM: [Double] = []
        if models.contains(where: { if case .edm = $0.space { true } else { false } }) {
            let (sigmaMax, sigmaMin) = (Double(edm.sigmaMax), Double(edm.sigmaMin))
            exactEDM = perSample { sample in
                TrajectoryGeometry.exactEDMMap(Array(start[sample * d ..< (sample + 1) * d]).map { $0 * sigmaMax }, sigmaMax: sigmaMax,
                                               sigmaMin: sigmaMin, means: means, stds: stds, steps: 1024)
            }
        }
        for diagnosed in models {
            guard case let .edm(boundary) = diagnosed.space else { continue }
            let output = try EDMSampler(model: EDMModel(network: diagnosed.model, config: edm, boundary: boundary))
                .sampleConsistency(noise: noise, steps: 1, key: RandomKey(seed: 0, stream: .diagnosticsRenoise)).download()
            rows.append(exactODERow(diagnosed.method, segments: 1, steps: 1, output: output, exact: exactEDM, dimension: d))
        }
        for diagnosed in models where diagnosed.space == .flow {
            // From pure noise the flow's map is the VP schedule's: the same probability-flow ODE in other coordinates.
            let output = try FlowJumpSampler(model: diagnosed.model).sample(noise: noise, steps: 1).download()
            rows.append(exactODERow(diagnosed.method, segments: 1, steps: 1, output: output, exact: exact, dimension: d))
        }
        for diagnosed in models where diagnosed.space == .vp {
            for k in diagnosed.steps {
                let output = try VPSampler(model: diagnosed.model).sample(noise: noise, steps: k, parameters: diagnosed.parameters)
                rows.append(exactODERow(diagnosed.method, segments: diagnosed.segments, steps: k, output: try output.download(), exact: exact,
                                        dimension: d))
            }
        }
        return rows
    }

    /// The mean distance of `output` to `exact` over the trajectories, with its bootstrap interval.
    func exactODERow(_ method: String, segments: Int, steps: Int, output: [Float], exact: [Double], dimension d: Int) -> ExactODERow {
        let distances = (0 ..< count).map { sample in
            (0 ..< d).reduce(0.0) { sum, j in
                let e = Double(output[sample * d + j]) - exact[sample * d + j]
                return sum + e * e
            }.squareRoot()
        }
        let interval = Bootstrap.meanInterval(distances, seed: UInt64(1000 * segments + steps) ^ StudyIntervals.seed(method))
        study.log(String(format: "  exact-ODE error %@ S=%d steps %d: %@", method, segments, steps, interval.formatted()))
        return ExactODERow(method: method, segments: segments, steps: steps, meanDistance: interval.estimate, interval: interval)
    }

    /// Relative variance of the multistep-CT gradient over minibatches, at the diffusion model's parameters, with a
    /// jackknife interval over the minibatches: the estimator's own noise, against which a difference between two S
    /// can be read. (A bootstrap would repeat minibatches and understate the spread it measures.)
    func gradientVariance() throws -> [GradientVarianceRow] {
        let batches = gradientBatches
        return try [1, 2, 4, 8, 16].map { segments in
            let model = try Denoiser(engine: engine, config: study.denoiser, seed: 0)
            let weights = teacher.ema?.values ?? teacher.model.parameters.values
            try model.parameters.assign(from: weights)
            let objective = try MultistepConsistencyObjective(model: model, config: MultistepConfig(segments: segments, annealSteps: 1),
                                                              batch: study.settings.batch, seed: 31)
            let interval = try gradientSpread(objective, batches: batches, sourceSeed: 32, firstStep: 1000)
            study.log(String(format: "  gradient variance S=%d: %@", segments, interval.formatted(3)))
            return GradientVarianceRow(segments: segments, relativeVariance: interval.estimate, batches: batches, interval: interval)
        }
    }

    /// Each recipe's "why" row (`GradientSpreadProbe`): the relative variance of its network's gradient over
    /// minibatches at seed 0's trained parameters, under its objective as trained and each variant, with a jackknife
    /// interval over the minibatches. The objective sees step `budget + b` for minibatch b (after sCT's warm-up, in
    /// ECT's last stage); a learned loss weighting's own gradient is left out.
    func probes() throws -> [GradientProbeRow] {
        let batches = gradientBatches, budget = study.settings.budget
        var rows: [GradientProbeRow] = []
        for diagnosed in models {
            guard let probe = diagnosed.family.probe, !rows.contains(where: { $0.method == diagnosed.method }) else { continue }
            let network = diagnosed.model.parameters.entries.filter { !$0.name.hasPrefix("weighting.") }
            for variant in probe.variants {
                let objective = try variant.make(diagnosed.model, budget, study.settings.batch, 35)
                let interval = try gradientSpread(objective, batches: batches, sourceSeed: 36, firstStep: budget, entries: network)
                study.log("  \(diagnosed.family.label) gradient variance, \(variant.label): \(interval.formatted(3))")
                rows.append(GradientProbeRow(method: diagnosed.method, variant: variant.label, relativeVariance: interval.estimate,
                                             batches: batches, interval: interval))
            }
        }
        return rows
    }

    /// The relative variance of `objective`'s gradient over `batches` minibatches of a source seeded `sourceSeed` (minibatch
    /// b is its step 1000 + b, the objective's step `firstStep + b`), with a jackknife interval over the minibatches
    /// (a bootstrap would repeat minibatches and understate the spread); `entries` (nil: all) are the parameters counted.
    func gradientSpread(_ objective: any TrainingObjective, batches: Int, sourceSeed: UInt64, firstStep: Int,
                        entries: [ParameterStore.Entry]? = nil) throws -> ConfidenceInterval {
        let parameters = objective.model.parameters
        let source = try study.spec.source(engine: engine, normalization: study.normalization, seed: sourceSeed)
        let x0 = try engine.tensor(rows: study.settings.batch, columns: study.spec.dimension)
        var gradients: [[Double]] = []
        for b in 0 ..< batches {
            try source.fill(x0, step: 1000 + b)
            _ = try objective.computeGradients(x0: x0, step: firstStep + b)
            let all = try parameters.gradients.download()
            gradients.append(entries.map { $0.flatMap { all[$0.offset ..< $0.offset + $0.count].map(Double.init) } } ?? all.map(Double.init))
        }
        return Bootstrap.jackknifeInterval(count: batches) { picked in Self.relativeVariance(picked.map { gradients[$0] }) }
    }

    /// E|g - mean g|^2 / |mean g|^2 over the gradient vectors `gradients` (unbiased spread).
    static func relativeVariance(_ gradients: [[Double]]) -> Double {
        let n = gradients[0].count, batches = Double(gradients.count)
        var mean = [Double](repeating: 0, count: n)
        for g in gradients { for i in 0 ..< n { mean[i] += g[i] } }
        for i in 0 ..< n { mean[i] /= batches }
        var spread = 0.0
        for g in gradients { for i in 0 ..< n { spread += (g[i] - mean[i]) * (g[i] - mean[i]) } }
        return spread / (batches - 1) / Swift.max(mean.reduce(0) { $0 + $1 * $1 }, 1e-30)
    }

    /// How early the teacher's x-prediction settles along 64-step DDIM trajectories.
    func x0Convergence(noise: Tensor) throws -> X0Convergence {
        let steps = 64, epsilon = 0.05, d = noise.columns
        var predictions: [[Float]] = []
        _ = try VPSampler(model: teacher.model).sample(noise: noise, steps: steps, parameters: teacher.ema?.values) { _, _, xhat in
            predictions.append(try xhat.download())
        }
        let final = predictions.last!
        let fractions: [Double] = (0 ..< count).map { sample in
            var settled = predictions.count
            for k in stride(from: predictions.count - 1, through: 0, by: -1) {
                var squares = 0.0
                for j in 0 ..< d {
                    let e = Double(predictions[k][sample * d + j] - final[sample * d + j])
                    squares += e * e
                }
                let distance = squares.squareRoot()
                if distance < epsilon { settled = k } else { break }
            }
            return Double(settled) / Double(predictions.count)
        }.sorted()
        let mean = fractions.reduce(0, +) / Double(count)
        study.log(String(format: "  x0-prediction within %.2f of its final value after %.0f%% of the steps (mean)", epsilon, 100 * mean))
        return X0Convergence(steps: steps, epsilon: epsilon, meanFraction: mean, medianFraction: fractions[count / 2])
    }

    /// The early-exit sampler against full 64-step DDIM: evaluations used and quality.
    func earlyExit() throws -> EarlyExitRow {
        let samples = study.spec.imageShape == nil ? study.settings.samples : count
        let reference = study.spec.referencePoints(count: samples, seed: 10_000)
        let noise = try engine.tensor(rows: samples, columns: study.spec.dimension)
        try engine.normal(into: noise, key: RandomKey(seed: 0, stream: .studyNoise))
        let sampler = VPSampler(model: teacher.model)
        let early = try sampler.sampleEarlyExit(noise: noise, steps: 64, parameters: teacher.ema?.values)
        let full = try fullDDIMDistance ?? study.score(sampler.sample(noise: noise, steps: 64, parameters: teacher.ema?.values),
                                                       reference: reference).0.swd
        let row = EarlyExitRow(steps: 64, meanEvaluations: early.meanEvaluations,
                               swdEarlyExit: try study.score(early.samples, reference: reference).0.swd, swdFull: full)
        study.log(String(format: "  early exit: %.1f of 64 evaluations, swd %.4f (full DDIM-64: %.4f)", row.meanEvaluations,
                         row.swdEarlyExit, row.swdFull))
        return row
    }
}
