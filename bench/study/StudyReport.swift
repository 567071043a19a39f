import Foundation

/// Renders `report.md` from the measured results. Every conclusion is computed by a rule stated next to it.
enum StudyReport {
    static func markdown(_ r: StudyResults, figures: [String] = [], grids: [(name: String, path: String)] = []) -> String {
        var out = header(r) + quality(r, figures: figures, grids: grids)
        out.append("")
        out.append("## Conclusions (computed from the table)")
        out.append("")
        out.append(contentsOf: conclusions(r).map { "- " + $0 })
        out += rankings(r)
        if let diagnostics = r.diagnostics { out += why(diagnostics) }
        if !r.sampling.isEmpty { out += sampling(r.sampling) }
        return out.joined(separator: "\n") + "\n"
    }

    /// The answer, the run's settings and budget, the floors, and the gate.
    static func header(_ r: StudyResults) -> [String] {
        var out: [String] = []
        out.append("# StepLab step-count study")
        out.append("")
        out.append(StudyAnswer.paragraph([(r.config["data"] ?? "this data", r)]))
        out.append("")
        if let best = StudyAnswer.best([(r.config["data"] ?? "this data", r)]) { out += [best, ""] }
        out.append("Device: \(r.device). Commit: \(r.commit). Date: \(r.date).")
        out.append("Configuration: " + r.config.keys.sorted().map { "\($0) = \(r.config[$0]!)" }.joined(separator: ", ") + ".")
        out.append("Budget: every model sees `iterations` + `consistency_iterations` steps of the same batch, network and optimizer "
                   + "(at `lr`, the consistency models at `consistency_lr`). "
                   + "Diffusion trains `iterations` steps, and its EMA weights at that point initialise MCT/MCD (MCM's default) and teach "
                   + "CD/MCD, which then train `consistency_iterations` more; diffusion itself continues to the full budget; CT and CD "
                   + "train the full budget from scratch, on the first `one_step_seeds` seeds. Numbers are mean ± std over seeds of the non-diverged runs, in the data's units.")
        out.append("")
        out.append(String(format: "Noise floor (two independent reference samples): SWD %.4f, MMD² %.5f, energy %.5f. "
                          + "Gaussian fit (a Gaussian with the data's mean and std): SWD %.4f; a consistency model scoring worse than twice "
                          + "that, or any run with a non-finite loss or gradient, counts as diverged.",
                          r.noiseFloor.swd, r.noiseFloor.mmd, r.noiseFloor.energy, r.divergenceBound.swd))
        if let image = r.imageNoiseFloor {
            out.append("")
            out.append(String(format: "Image metrics on the features of %@ against the reference images; their noise floor "
                              + "(as many other data images): FD %.3f, KID %.5f%@. The rules below compare FD.",
                              r.config["image_features"] ?? "StepLab's Fashion-MNIST classifier", image.frechetDistance, image.kid,
                              image.coverage.map { ", \($0.coveredClasses) of \($0.counts.count) classes covered" } ?? ""))
        }
        if let floor = r.intervals["noise floor"] {
            out.append("")
            out.append(r.imageNoiseFloor == nil
                       ? "Intervals: 95% bootstrap intervals over seeds and samples (seeds drawn with replacement, then the points of a drawn "
                         + "seed's samples and reference resampled, the same resample for every model: differences are paired), on SWD "
                         + "over 16 directions per dimension (at most 64). The noise floor on them: \(floor.formatted())."
                       : "Intervals: 95% bootstrap intervals over seeds and samples (seeds drawn with replacement, then a drawn seed's "
                         + "\(r.config["bootstrap_replicates"] ?? "200") resamples of its images, the same resample for every model: differences are paired; "
                         + "the reference images are held fixed), bias-corrected, of FD and of KID (here the unbiased MMD² against the whole "
                         + "reference, not a mean over subsets of it). The FD noise floor on them: "
                         + "\(floor.formatted(3)).")
        }
        if let gate = r.teacherGate {
            out.append("")
            out.append(gate.sentence)
        }
        return out
    }

    /// The table of every configuration (and for images the image metrics), the figures and the grids.
    static func quality(_ r: StudyResults, figures: [String], grids: [(name: String, path: String)]) -> [String] {
        var out: [String] = []
        out.append("")
        out.append("## Quality against steps")
        out.append("")
        out.append("| method | S | sampler | evals | SWD | SWD (bootstrap) 95% interval | MMD² | energy | diverged | loss noise | grad spikes | train s |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for s in r.summary {
            out.append(String(format: "| %@ | %d | %@ | %.0f | %.4f ± %.4f | %@ | %.5f ± %.5f | %.5f ± %.5f | %d/%d | %@ | %@ | %@ |",
                              s.method, s.segments, s.sampler, s.evaluationsPerSample, s.swdMean, s.swdStd,
                              r.imageNoiseFloor == nil ? r.intervals[s.configuration]?.formatted() ?? "–" : "–", s.mmdMean, s.mmdStd,
                              s.energyMean, s.energyStd, s.diverged, s.seeds,
                              s.lossNoiseMean.map { String(format: "%.3f", $0) } ?? "–",
                              s.gradSpikesTotal.map(String.init) ?? "–",
                              s.trainSecondsMean.map { String(format: "%.1f", $0) } ?? "–"))
        }
        if r.imageNoiseFloor != nil {
            out.append("")
            out.append("| method | S | sampler | evals | FD | FD (bootstrap) 95% interval | KID | KID (bootstrap) 95% interval | classes covered |")
            out.append("|---|---|---|---|---|---|---|---|---|")
            for s in r.summary {
                out.append(String(format: "| %@ | %d | %@ | %.0f | %.3f ± %.3f | %@ | %@ | %@ | %@ |", s.method, s.segments, s.sampler,
                                  s.evaluationsPerSample, s.primaryMean, s.primaryStd, r.intervals[s.configuration]?.formatted(3) ?? "–",
                                  s.kidMean.map { String(format: "%.4f", $0) } ?? "–", r.kidIntervals[s.configuration]?.formatted(4) ?? "–",
                                  s.classesCoveredMean.map { String(format: "%.1f", $0) } ?? "–"))
            }
        }
        out.append("")
        if !figures.isEmpty {
            out.append("")
            out.append(figures.map { "![\($0)](\($0))" }.joined(separator: "\n"))
        }
        if !grids.isEmpty {
            out.append("")
            out.append("Seed 0's first 64 samples of each configuration: " + grids.map { "[\($0.name)](\($0.path))" }.joined(separator: ", ") + ".")
        }
        return out
    }

    /// The diagnostics: curvature with MCT's loss per segment, the exact-ODE distances, gradient variance, x0 convergence.
    static func why(_ diagnostics: Diagnostics) -> [String] {
        var out: [String] = []
        out.append("")
        out.append("## Why (seed 0)")
        out.append("")
        out.append("Curvature of the diffusion teacher's probability-flow trajectories (\(diagnostics.trajectories) trajectories of "
                   + "\(diagnostics.trajectorySteps) DDIM steps): path length over chord length of each of S equal segments, and the mean "
                   + "chord (distance each jump must cover).")
        out.append("")
        out.append("Beside them, each segment's multistep CT loss, measured on that S's trained model at its final teacher steps on "
                   + "fresh minibatches: the SNR + 1 weighted objective, and the RMS of its x-prediction's error against the target "
                   + "per coordinate (unweighted). Segments run from noise (first) to data (last).")
        out.append("")
        out.append("| S | path/chord per segment | chord per jump | MCT loss per segment | MCT RMS error per segment |")
        out.append("|---|---|---|---|---|")
        for row in diagnostics.curvature {
            let losses = diagnostics.segmentLosses.first { $0.segments == row.segments }?.perSegment.reversed()
            out.append("| \(row.segments) | " + row.pathOverChord.map { String(format: "%.3f", $0) }.joined(separator: ", ") + " | "
                       + row.chordPerJump.map { String(format: "%.3f", $0) }.joined(separator: ", ") + " | "
                       + (losses?.map { String(format: "%.4g", $0.loss) }.joined(separator: ", ") ?? "–") + " | "
                       + (losses?.map { String(format: "%.4f", $0.rmsError) }.joined(separator: ", ") ?? "–") + " |")
        }
        if !diagnostics.exactODEError.isEmpty {
            out.append("")
            out.append("Distance to the exact PF-ODE map of the analytic mixture from the same noise (standardised units, "
                       + "exact map by DDIM with the exact posterior mean at 2048 and 4096 steps, Richardson-extrapolated; one-step CT and CD, "
                       + "which start from sigma_max = 80 times the same noise, against the EDM flow's map from there, on the Karras grid at "
                       + "1024 and 2048 steps):")
            out.append("")
            out.append("| model | S | steps | mean distance | 95% interval |")
            out.append("|---|---|---|---|---|")
            for row in diagnostics.exactODEError {
                out.append(String(format: "| %@ | %d | %d | %.4f | %@ |", row.method, row.segments, row.steps, row.meanDistance,
                                  row.interval.map { String(format: "[%.4f, %.4f]", $0.lower, $0.upper) } ?? "–"))
            }
        }
        out.append("")
        out.append("Relative gradient variance of multistep CT at the diffusion model's parameters (\(diagnostics.gradientVariance.first?.batches ?? 0) "
                   + "minibatches; 95% jackknife interval over them): "
                   + diagnostics.gradientVariance.map { row in
                       String(format: "S=%d: %@", row.segments, row.interval?.formatted(3) ?? String(format: "%.3f", row.relativeVariance))
                   }.joined(separator: ", ") + ". Two S whose intervals overlap are not told apart by this estimator.")
        for family in StudyFamily.all {
            let rows = diagnostics.probes.filter { $0.method == family.name }
            guard let probe = family.probe, let first = rows.first else { continue }
            out.append("")
            out.append("\(family.label)'s gradient at its trained parameters (\(first.batches) minibatches, same measure), \(probe.question): "
                       + rows.map { "\($0.variant) \($0.interval?.formatted(3) ?? String(format: "%.3f", $0.relativeVariance))" }
                             .joined(separator: ", ") + ".")
        }
        if let x0 = diagnostics.x0Convergence {
            out.append("")
            out.append(String(format: "The teacher's x-prediction is within %.2f of its final value after %.0f%% of 64 DDIM steps on average "
                              + "(median %.0f%%).", x0.epsilon, 100 * x0.meanFraction, 100 * x0.medianFraction))
        }
        if let early = diagnostics.earlyExit {
            out.append(String(format: " The early-exit sampler used %.1f of 64 evaluations per sample (%.0f%% saved) at SWD %.4f against %.4f "
                              + "for full 64-step DDIM.", early.meanEvaluations, 100 * (1 - early.meanEvaluations / 64),
                              early.swdEarlyExit, early.swdFull))
        }
        return out
    }

    /// The samplers' throughput.
    static func sampling(_ rows: [SamplingThroughput]) -> [String] {
        var out: [String] = []
        out.append("")
        out.append("## Sampling throughput")
        out.append("")
        for row in rows {
            out.append(String(format: "- %@ with %d step(s), batch %d: %.0f samples/s (device buffers %@, host peak %@)", row.sampler, row.steps,
                              row.batch, row.samplesPerSecond, HostMemory.megabytes(row.deviceBytes), HostMemory.megabytes(row.hostPeakBytes)))
        }
        return out
    }

    /// The leader at each step count against every other model there, the pairs the "Best" paragraph reads.
    static func rankings(_ r: StudyResults) -> [String] {
        guard !r.rankings.isEmpty else { return [] }
        let judged = r.teacherGate?.passes ?? true
        var out = ["", "## Best at \(StudyAnswer.list(StudyRanking.counts.map(String.init))) steps", "",
                   "Every model scored at the step count; the one with the lowest interval estimate leads, and its paired "
                   + "difference (\(r.metricName) of the leader minus the other, on the seeds both have) against each other decides."
                   + (judged ? "" : " No verdict: the teacher gate failed."), "",
                   "| steps | leader | other | difference | verdict |", "|---|---|---|---|---|"]
        for ranking in r.rankings {
            for c in ranking.comparisons {
                out.append("| \(ranking.steps) | \(c.a) | \(c.b) | \(c.difference.formatted()) | \(judged ? c.verdict : "–") |")
            }
        }
        return out
    }

    /// With intervals: each pair's paired difference and its interval; "better" or "worse" only when the
    /// interval excludes zero, and no verdict at all when the teacher gate fails.
    static func verdicts(_ r: StudyResults) -> [String] {
        var lines: [String] = []
        let judged = r.teacherGate?.passes ?? true
        if let gate = r.teacherGate, !gate.passes { lines.append(gate.sentence) }
        for c in r.comparisons {
            let difference = "\(r.metricName) difference " + c.difference.formatted()
            if !judged {
                lines.append("\(c.a) against \(c.b): \(difference) (no verdict: the teacher gate failed).")
            } else if c.verdict == "not separable" {
                lines.append("\(c.a) and \(c.b) cannot be separated at this budget: \(difference) includes zero.")
            } else {
                lines.append("\(c.a) is \(c.verdict) than \(c.b): \(difference).")
            }
        }
        return lines + divergenceAndCurvature(r)
    }

    /// Rules without intervals (points whose reference holds another number of points than the samples): two configurations are "within the seed spread" when their mean distances (SWD, or FD for images) differ
    /// by less than the sum of their standard deviations (or the noise floor, if larger); "better" otherwise, in the
    /// direction of the lower mean. They follow each family's pairings: against 64-step diffusion, 1 against 2 steps,
    /// and against the teacher's DDIM at as many steps.
    static func conclusions(_ r: StudyResults) -> [String] {
        if !r.comparisons.isEmpty { return verdicts(r) }
        if let gate = r.teacherGate, !gate.passes { return [gate.sentence] + divergenceAndCurvature(r) }
        var lines: [String] = []
        let metric = r.metricName
        func find(_ family: StudyFamily, _ steps: Int) -> StudySummary? {
            r.summary.first { $0.method == family.name && $0.segments == steps && $0.sampler == family.sampler && $0.primaryMean.isFinite }
        }
        func compare(_ a: StudySummary, _ b: StudySummary, _ nameA: String, _ nameB: String) -> String {
            let margin = Swift.max(a.primaryStd + b.primaryStd, r.primaryFloor)
            let difference = a.primaryMean - b.primaryMean
            if abs(difference) <= margin {
                return String(format: "%@ (%@ %.4f) is within the seed spread of %@ (%.4f; margin %.4f).", nameA, metric, a.primaryMean, nameB,
                              b.primaryMean, margin)
            }
            return String(format: "%@ (%@ %.4f) is %@ than %@ (%.4f) by more than the seed spread (%.4f).", nameA, metric, a.primaryMean,
                          difference < 0 ? "better" : "worse", nameB, b.primaryMean, margin)
        }
        guard let reference = find(.diffusion, 64) else { return ["No finite 64-step diffusion result: no comparison possible."] }
        for (family, pairing) in StudyPairing.ordered(StudyFamily.all) {
            let label = family.label
            switch pairing {
            case .teacher:
                for steps in family.steps {
                    guard let s = find(family, steps) else { continue }
                    lines.append(compare(s, reference, family.isOneStep ? "one-step \(label)" : "\(label) with S = \(steps)", "64-step diffusion"))
                }
            case .doubling:
                if let one = find(family, 1), let two = find(family, 2), one.primaryMean > 0 {
                    lines.append(String(format: "%@: going from 1 to 2 steps changes %@ by %+.0f%%.", label, metric,
                                        100 * (two.primaryMean - one.primaryMean) / one.primaryMean))
                }
            case let .teacherAtSameSteps(counts):
                for n in counts {
                    guard let one = find(.diffusion, 1), let few = find(.diffusion, n) else { continue }
                    lines.append(String(format: "Diffusion with DDIM: 1 step %@ %.4f, %d steps %.4f, 64 steps %.4f.", metric, one.primaryMean, n,
                                        few.primaryMean, reference.primaryMean))
                    if let s = find(family, n) {
                        lines.append(compare(s, few, "\(label) with S = \(n)", "\(n)-step DDIM on the diffusion model"))
                    }
                }
            case .oneStepAgainst, .alongside:
                // Judged only with intervals.
                break
            }
        }
        return lines + divergenceAndCurvature(r)
    }

    /// The top-level report of a run over several data sets: each set's gate and verdicts, and every judged pair
    /// side by side across the sets, so a reader sees which conclusions hold on more than one geometry.
    static func index(_ collection: StudyCollection) -> String {
        var out = ["# StepLab step-count study", ""]
        let sets = collection.dataSets
        out.append(StudyAnswer.paragraph(sets.map { ($0.data, $0.results) }))
        out.append("")
        if let best = StudyAnswer.best(sets.map { ($0.data, $0.results) }) { out += [best, ""] }
        out.append("Data sets: " + sets.map { "[\($0.data)](\($0.folder)/report.md)" }.joined(separator: ", ")
                   + ". Each has its own report (tables, figures, diagnostics); this page gathers the verdicts.")
        if let first = sets.first?.results {
            out.append("")
            let sideBySide = first.config["side_by_side"].flatMap { Int($0) } ?? 1
            out.append("Device: \(first.device). Commit: \(first.commit). Date: \(first.date). Wall time: "
                       + sets.map { "\($0.data) \($0.results.config["wall_seconds"] ?? "?") s" }.joined(separator: ", ") + "."
                       + (sideBySide > 1 ? " The sets trained side by side, \(sideBySide) at a time on the one device, so their train s columns share its cores." : ""))
        }
        out.append("")
        out.append("## Teacher gates")
        out.append("")
        for set in sets {
            out.append("- \(set.data): " + (set.results.teacherGate?.sentence ?? "no 64-step diffusion result."))
        }
        let pairs = sets.first?.results.comparisons.map { ($0.a, $0.b) } ?? []
        if !pairs.isEmpty {
            out.append("")
            out.append("## Paired differences (\(sets[0].results.metricName) of the first minus the second, 95% bootstrap interval) and verdicts")
            out.append("")
            out.append("| first | second | " + sets.map(\.data).joined(separator: " | ") + " |")
            out.append("|---|---|" + sets.map { _ in "---|" }.joined())
            for (a, b) in pairs {
                let cells = sets.map { set -> String in
                    guard let c = set.results.comparisons.between(a, b) else { return "–" }
                    let judged = set.results.teacherGate?.passes ?? true
                    return c.difference.formatted() + (judged ? " \(c.verdict)" : " (gate failed)")
                }
                out.append("| \(a) | \(b) | " + cells.joined(separator: " | ") + " |")
            }
            let agreed = pairs.filter { a, b in
                let verdicts = sets.map { set in
                    (set.results.teacherGate?.passes ?? true) ? set.results.comparisons.between(a, b)?.verdict : nil
                }
                return verdicts.allSatisfy { $0 != nil && $0 != "not separable" } && Set(verdicts.compactMap { $0 }).count == 1
            }
            out.append("")
            out.append(agreed.isEmpty ? "No verdict holds on every data set."
                       : "Verdicts that hold on every data set: " + agreed.map { a, b in
                           "\(a) \(sets[0].results.comparisons.between(a, b)!.verdict) than \(b)"
                       }.joined(separator: "; ") + ".")
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// The lines every set of conclusions ends with: diverged runs and the teacher's curvature.
    static func divergenceAndCurvature(_ r: StudyResults) -> [String] {
        let diverged = r.summary.filter { $0.diverged > 0 }
        var lines = [diverged.isEmpty ? "No run diverged."
                     : "Diverged runs: " + diverged.map { "\($0.configuration) \($0.diverged)/\($0.seeds)" }.joined(separator: ", ") + "."]
        if let curvature = r.diagnostics?.curvature.first(where: { $0.segments == 1 }) {
            lines.append(String(format: "The teacher's whole trajectory is %.1f%% longer than its chord: the one-step map must cut that corner.",
                                100 * (curvature.pathOverChord[0] - 1)))
        }
        return lines
    }
}
