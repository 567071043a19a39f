import Foundation
import StepLabData
import StepLabEngine
import StepLabGenerative

/// What every model of one seed shares: its reference draw and resamples, its starting noise, its data and trainers.
struct StudySeed {
    let seed: Int
    let reference: PointSet
    /// Points against a reference of as many points: paired resamples for the verdicts' intervals (nil for images).
    let bootstrap: SlicedWassersteinBootstrap?
    /// Images scored against the data set's reference: paired FD and KID resamples.
    let imageBootstrap: StudyImageBootstrap?
    /// Every model of the seed samples from this noise, so its rows are paired.
    let noise: Tensor
    let source: any BatchSource
    let trainer: StudyTrainer
    let consistencyTrainer: StudyTrainer
    /// The CLI's default for this data (`steplab sample --clip`), so the study's samples are the ones a user gets.
    let clip: Float
}

extension Study {
    /// Seed `seed`'s reference, floor, noise and trainers; records its floors (and at seed 0 the divergence bound).
    func prepare(seed: Int) throws -> StudySeed {
        let reference = reference(seed: seed)
        let floorSample = spec.referencePoints(count: settings.samples, seed: UInt64(20_000 + seed))
        ledger.floors.append(try metrics.report(sample: floorSample, reference: reference))
        let bootstrap = spec.imageShape == nil && reference.count == settings.samples
            ? SlicedWassersteinBootstrap(reference: reference, projections: Swift.min(64, 16 * spec.dimension),
                                         replicates: settings.bootstrapReplicates, seed: UInt64(30_000 + seed))
            : nil
        if let bootstrap { intervals.record("noise floor", seed: seed, bootstrap.distances(floorSample)) }
        if seed == 0 { ledger.bound = try divergenceBound(reference: reference) }
        let imageBootstrap = try imageQuality.map { try StudyImageBootstrap(quality: $0, count: settings.samples, replicates: settings.bootstrapReplicates,
                                                                              seed: UInt64(30_000 + seed)) }
        // The image noise floor: as many other data images scored the same way (`DataSpec.imageFloor`), with intervals
        // where it is scored against the models' own reference.
        if let imageQuality, let floor = spec.imageFloor(count: settings.samples, seed: UInt64(20_000 + seed)) {
            if let floorReference = floor.reference {
                let floorQuality = try ImageQuality(extractor: imageQuality.extractor, reference: floorReference)
                ledger.imageFloors.append(try floorQuality.report(floor.sample, seed: UInt64(seed)))
            } else if let report = try imageReport(floor.sample, seed: seed, configuration: "noise floor", bootstrap: imageBootstrap) {
                ledger.imageFloors.append(report)
            }
        }
        let source = try spec.source(engine: engine, normalization: normalization, seed: UInt64(seed))
        let trainer = StudyTrainer(engine: engine, source: source, denoiser: denoiser, iterations: settings.iterations,
                                   optimization: optimization(consistency: false), logEvery: 10)
        let consistencyTrainer = StudyTrainer(engine: engine, source: source, denoiser: denoiser, iterations: settings.iterations,
                                              optimization: optimization(consistency: true), logEvery: 10)
        let noise = try engine.tensor(rows: settings.samples, columns: spec.dimension)
        try engine.normal(into: noise, key: RandomKey(seed: UInt64(seed), stream: .studyNoise))
        if seed == 0 { extras.reference = reference.dimension == 2 ? reference.values : [] }
        return StudySeed(seed: seed, reference: reference, bootstrap: bootstrap, imageBootstrap: imageBootstrap, noise: noise, source: source, trainer: trainer,
                         consistencyTrainer: consistencyTrainer, clip: spec.sampleClip)
    }

    /// Scores `family`'s samples at `steps` (a multistep model's segments) against the seed's reference: its row, its
    /// resampled distances, the figures' series, and a log line.
    func record(_ run: StudySeed, _ family: StudyFamily, steps: Int, sampler: String, samples: Tensor, training: TrainingRecord?,
                evaluations: Double) throws {
        let (seed, method, segments) = (run.seed, family.name, steps)
        let points = try dataUnits(samples)
        let (report, finite) = try score(points, reference: run.reference)
        let configuration = StudyRow.configuration(method, segments: segments, sampler: sampler, steps: steps)
        let image = finite ? try imageReport(points, seed: seed, configuration: configuration, bootstrap: run.imageBootstrap) : nil
        if finite, let bootstrap = run.bootstrap { intervals.record(configuration, seed: seed, bootstrap.distances(points)) }
        ledger.completed += 1
        // The teacher's rows are named by steps (and sampler), every other model's by segments.
        if seed == 0 && spec.dimension == 2 && sampler == family.sampler && Self.shownSteps.contains(steps) {
            extras.samples.append(("\(method) \(family.isTeacher ? "\(steps) steps" : "S=\(segments)")", points.values))
        }
        if seed == 0, spec.imageShape != nil {
            extras.grids.append((family.isTeacher ? "\(method)-\(sampler)\(steps)" : "\(method)-s\(segments)",
                                 points.rows(0 ..< Swift.min(points.count, 64))))
        }
        if family.examinations.contains(.trainingLoss), let training { extras.losses["S = \(segments)", default: []].append(training.losses) }
        // Diffusion's few-step samples are poor by design, not diverged; a consistency model whose samples are worse
        // than twice a Gaussian fit failed to train.
        let qualityFailed = !family.isTeacher && !(report.swd <= Self.divergenceFactor * ledger.bound.swd)
        let diverged = !finite || !(training?.finite ?? true) || qualityFailed
        ledger.rows.append(StudyRow(method: method, segments: segments, steps: steps, sampler: sampler, seed: seed, swd: report.swd,
                                    mmd: report.mmd, energy: report.energy, diverged: diverged, lossNoise: training?.lossNoise,
                                    gradSpikes: training?.gradientSpikes, trainSeconds: training?.seconds, evaluationsPerSample: evaluations,
                                    fd: image?.frechetDistance, kid: image?.kid, classesCovered: image?.coverage?.coveredClasses))
        log(String(format: "  [%d/%d, %.0f s, eta %.0f s] seed %d  %-10@ S=%-2d %@-%-3d swd %.4f%@%@", ledger.completed, ledger.total,
                   Date().timeIntervalSince(ledger.started), ledger.eta, seed,
                   method as NSString, segments, sampler, steps, report.swd,
                   image.map { String(format: "  fd %.3f  kid %.4f  classes %d", $0.frechetDistance, $0.kid, $0.coverage?.coveredClasses ?? 0) } ?? "",
                   diverged ? "  (diverged)" : ""))
    }
}
