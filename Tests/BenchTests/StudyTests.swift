import Foundation
import StepLabData
import StepLabEngine
import StepLabGenerative
import StepLabTestSupport
import Testing
@testable import bench

@Suite struct StudyReportTests {
    static func row(_ method: String, _ segments: Int, _ sampler: String, seed: Int, swd: Double, diverged: Bool = false) -> StudyRow {
        StudyRow(method: method, segments: segments, steps: segments, sampler: sampler, seed: seed, swd: swd, mmd: swd / 10,
                 energy: swd / 5, diverged: diverged, lossNoise: 0.1, gradSpikes: 1, trainSeconds: 2, evaluationsPerSample: Double(segments))
    }

    static func results(_ rows: [StudyRow], floor: Double) -> StudyResults {
        StudyResults(device: "test", commit: "x", date: "d", config: [:], study: rows, summary: StudySummary.of(rows),
                     noiseFloor: MetricReport(swd: floor, mmd: 0, energy: 0, count: 10),
                     divergenceBound: MetricReport(swd: 1, mmd: 0, energy: 0, count: 10), diagnostics: nil, sampling: [], kernels: nil)
    }

    @Test func summariesAverageTheNonDivergedSeeds() {
        let rows = [Self.row("mct", 4, "ddim", seed: 0, swd: 0.2), Self.row("mct", 4, "ddim", seed: 1, swd: 0.4),
                    Self.row("mct", 4, "ddim", seed: 2, swd: 9, diverged: true)]
        let summary = StudySummary.of(rows)
        #expect(summary.count == 1)
        #expect(abs(summary[0].swdMean - 0.3) < 1e-12)
        #expect(abs(summary[0].swdStd - 0.14142135623730953) < 1e-12)
        #expect(summary[0].diverged == 1 && summary[0].seeds == 3)
        #expect(summary[0].gradSpikesTotal == 3)
    }

    @Test func conclusionsFollowTheStatedRules() {
        var rows: [StudyRow] = []
        for seed in 0 ..< 3 {
            let jitter = Double(seed - 1) * 0.01
            rows.append(Self.row("diffusion", 64, "ddim", seed: seed, swd: 0.20 + jitter))
            rows.append(Self.row("diffusion", 8, "ddim", seed: seed, swd: 0.25 + jitter))
            rows.append(Self.row("diffusion", 1, "ddim", seed: seed, swd: 1.2 + jitter))
            rows.append(Self.row("mct", 1, "ddim", seed: seed, swd: 0.60 + jitter))
            rows.append(Self.row("mct", 2, "ddim", seed: seed, swd: 0.30 + jitter))
            rows.append(Self.row("mct", 8, "ddim", seed: seed, swd: 0.21 + jitter))
        }
        let lines = StudyReport.conclusions(Self.results(rows, floor: 0.005))
        #expect(lines.contains { $0.hasPrefix("MCT with S = 8 (SWD 0.2100) is within the seed spread of 64-step diffusion") })
        #expect(lines.contains { $0.hasPrefix("MCT with S = 1 (SWD 0.6000) is worse than 64-step diffusion") })
        #expect(lines.contains { $0.hasPrefix("MCT with S = 2 (SWD 0.3000) is worse than 64-step diffusion") })
        #expect(lines.contains("MCT: going from 1 to 2 steps changes SWD by -50%."))
        #expect(lines.contains("No run diverged."))
        // A large noise floor widens the margin: then S = 2 counts as within the spread too.
        let wide = StudyReport.conclusions(Self.results(rows, floor: 0.2))
        #expect(wide.contains { $0.hasPrefix("MCT with S = 2 (SWD 0.3000) is within the seed spread") })
    }

    /// With image metrics the rules compare FD (and its noise floor), not the pixel-space SWD.
    @Test func imageStudiesCompareFrechetDistance() throws {
        var rows: [StudyRow] = []
        for seed in 0 ..< 2 {
            let jitter = Double(seed) * 0.2
            for (method, segments, fd) in [("diffusion", 64, 20.0), ("mct", 1, 80.0), ("mct", 2, 40.0), ("mct", 8, 21.0)] {
                var row = Self.row(method, segments, "ddim", seed: seed, swd: 0.5)  // equal SWDs: only FD separates them
                row.fd = fd + jitter
                row.kid = fd / 100
                row.classesCovered = 10
                rows.append(row)
            }
        }
        var results = Self.results(rows, floor: 0.005)
        let coverage = try ClassCoverage(labels: Array(0 ..< 10), classes: 10)
        results.imageNoiseFloor = ImageQualityReport(count: 10, frechetDistance: 2, kid: 0, kidStandardDeviation: 0, coverage: coverage)
        let lines = StudyReport.conclusions(results)
        #expect(lines.contains { $0.hasPrefix("MCT with S = 1 (FD 80.1000) is worse than 64-step diffusion (20.1000)") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("MCT with S = 8 (FD 21.1000) is within the seed spread of 64-step diffusion") }, "\(lines)")
        #expect(lines.contains("MCT: going from 1 to 2 steps changes FD by -50%."))
        let report = StudyReport.markdown(results)
        #expect(report.contains("| mct | 2 | ddim | 2 | 40.100 ± 0.141 | – | 0.4000 | – | 10.0 |"), "\(report)")
        // With FD and KID intervals: the image table shows them, the pixel-space table none, and the paired FD
        // differences carry the verdicts.
        let interval = { (e: Double, lo: Double, hi: Double) in ConfidenceInterval(estimate: e, lower: lo, upper: hi, confidence: 0.95) }
        results.intervals = ["mct S=2 ddim-2": interval(40, 38, 43), "noise floor": interval(2, 1.5, 2.6)]
        results.kidIntervals = ["mct S=2 ddim-2": interval(0.4, 0.35, 0.45)]
        results.comparisons = [StudyComparison(a: "mct S=8 ddim-8", b: "diffusion S=64 ddim-64", difference: interval(1, 0.2, 1.9))]
        results.teacherGate = TeacherGate(metric: "FD", teacherDistance: 20.1, noiseFloor: 2, excess: interval(18, 16, 20), intervalFloor: 2)
        let withIntervals = StudyReport.markdown(results)
        #expect(withIntervals.contains("| mct | 2 | ddim | 2 | 40.100 ± 0.141 | 40.000 [38.000, 43.000] | 0.4000 | 0.4000 [0.3500, 0.4500] | 10.0 |"),
                "\(withIntervals)")
        #expect(withIntervals.contains("The FD noise floor on them: 2.000 [1.500, 2.600]"))
        #expect(withIntervals.contains("64-step diffusion's FD exceeds the noise floor by 18.0000 [16.0000, 20.0000]"), "\(withIntervals)")
        #expect(withIntervals.contains("mct S=8 ddim-8 against diffusion S=64 ddim-64: FD difference 1.0000 [0.2000, 1.9000] (no verdict"))
        #expect(!withIntervals.contains("| 0.5000 ± 0.0000 | 40.000"), "the SWD table must not show FD intervals")
        results.teacherGate = TeacherGate(metric: "FD", teacherDistance: 3, noiseFloor: 2, excess: interval(1, 0.5, 1.5), intervalFloor: 2)
        #expect(StudyReport.conclusions(results).contains("mct S=8 ddim-8 is worse than diffusion S=64 ddim-64: FD difference 1.0000 [0.2000, 1.9000]."))
    }

    /// With intervals, verdicts follow them; a teacher far above the noise floor withholds every verdict.
    @Test func verdictsNeedAnIntervalThatExcludesZeroAndATeacherThatPassesTheGate() {
        var results = Self.results([Self.row("diffusion", 64, "ddim", seed: 0, swd: 0.12)], floor: 0.1)
        let interval = { (lo: Double, hi: Double) in ConfidenceInterval(estimate: (lo + hi) / 2, lower: lo, upper: hi, confidence: 0.95) }
        results.comparisons = [StudyComparison(a: "mct S=4 ddim-4", b: "mct S=8 ddim-8", difference: interval(0.01, 0.03)),
                               StudyComparison(a: "mct S=8 ddim-8", b: "diffusion S=64 ddim-64", difference: interval(-0.01, 0.02))]
        results.teacherGate = TeacherGate(metric: "SWD", teacherDistance: 0.12, noiseFloor: 0.1)
        let judged = StudyReport.conclusions(results)
        #expect(judged.contains("mct S=4 ddim-4 is worse than mct S=8 ddim-8: SWD difference 0.0200 [0.0100, 0.0300]."), "\(judged)")
        #expect(judged.contains { $0.hasPrefix("mct S=8 ddim-8 and diffusion S=64 ddim-64 cannot be separated at this budget") }, "\(judged)")
        // A fake teacher at 5x the floor: the report says the budget is too small and draws no verdict.
        results.teacherGate = TeacherGate(metric: "SWD", teacherDistance: 0.5, noiseFloor: 0.1)
        #expect(results.teacherGate?.passes == false && results.teacherGate?.ratio == 5)
        let withheld = StudyReport.conclusions(results)
        #expect(withheld.first?.contains("too small to judge S") == true, "\(withheld)")
        #expect(!withheld.contains { $0.contains(" is worse than ") || $0.contains(" is better than ") || $0.contains("cannot be separated") })
        let json = try? JSONSerialization.jsonObject(with: JSONEncoder().encode(results.teacherGate)) as? [String: Any]
        #expect(json?["passes"] as? Bool == false && json?["ratio"] as? Double == 5)
    }

    /// The gate judges the teacher's bias-corrected excess over the floor, not the ratio of two single draws: a
    /// teacher at 1.5x by the table's means fails when the excess's interval reaches past the floor, and passes
    /// at 2.5x when the interval stays below it.
    @Test func theGateJudgesTheExcessOverTheFloorByItsInterval() throws {
        let interval = { (e: Double, lo: Double, hi: Double) in ConfidenceInterval(estimate: e, lower: lo, upper: hi, confidence: 0.95) }
        let uncertain = TeacherGate(metric: "SWD", teacherDistance: 0.75, noiseFloor: 0.5, excess: interval(0.25, 0.125, 0.625), intervalFloor: 0.5)
        #expect(uncertain.ratio == 1.5 && !uncertain.passes && uncertain.allowance == 0.5)
        #expect(uncertain.sentence.contains("0.2500 [0.1250, 0.6250]") && uncertain.sentence.contains("It is not"), "\(uncertain.sentence)")
        let resolved = TeacherGate(metric: "SWD", teacherDistance: 1.25, noiseFloor: 0.5, excess: interval(0.25, 0.125, 0.375), intervalFloor: 0.5)
        #expect(resolved.ratio == 2.5 && resolved.passes)
        let decoded = try JSONDecoder().decode(TeacherGate.self, from: JSONEncoder().encode(resolved))
        #expect(decoded.excess == resolved.excess && decoded.intervalFloor == 0.5 && decoded.passes)
    }

    /// Several draws of one seed enter the intervals as their mean, replicate by replicate, so a mean over draws has
    /// a narrower interval than one draw.
    @Test func drawsOfOneSeedEnterTheIntervalsAsTheirMean() throws {
        var intervals = StudyIntervals()
        intervals.record("gate", seed: 0, draws: [(1, [1, 2, 3]), (3, [5, 6, 10])])
        let measured = try #require(intervals.measured["gate"]?[0])
        #expect(measured.estimate == 2 && measured.replicates == [3, 4, 6.5])
        let spread = (0 ..< 200).map { Double($0 % 20) / 19 }
        intervals.record("one draw", seed: 0, (0.5, spread))
        intervals.record("four draws", seed: 0, draws: (0 ..< 4).map { k in (0.5, spread.indices.map { spread[($0 + 7 * k) % 200] }) })
        let one = try #require(intervals.interval("one draw")), four = try #require(intervals.interval("four draws"))
        #expect(four.upper - four.lower < 0.75 * (one.upper - one.lower), "\(four) against \(one)")
    }

    /// A distance on resampled points is inflated: the percentile interval can exclude its own estimate; the
    /// bias-corrected one moves back by the replicates' mean minus the estimate and brackets it.
    @Test func theBiasCorrectedIntervalBracketsAnInflatedEstimate() {
        let replicates = (0 ..< 400).map { 0.03 + 0.01 * Double($0 % 20) / 19 }
        let plain = Bootstrap.groupedMeanInterval(estimates: [0.02], within: [replicates], seed: 1)
        let corrected = Bootstrap.biasCorrectedGroupedMeanInterval(estimates: [0.02], within: [replicates], seed: 1)
        #expect(plain.lower > 0.02)
        #expect(corrected.lower < 0.02 && corrected.upper > 0.02, "\(corrected)")
        #expect(abs((corrected.upper - corrected.lower) - (plain.upper - plain.lower)) < 1e-12)
    }

    /// The report opens with the answer: one step against S = 2, 4, 8 and the first S that reaches 64-step
    /// diffusion, from the intervals; a set whose gate failed decides nothing and says why.
    @Test func theReportOpensWithTheAnswer() {
        let interval = { (lo: Double, hi: Double) in ConfidenceInterval(estimate: (lo + hi) / 2, lower: lo, upper: hi, confidence: 0.95) }
        let rows = [1, 2, 4, 8].map { Self.row("mct", $0, "ddim", seed: 0, swd: 0.1) } + [Self.row("diffusion", 64, "ddim", seed: 0, swd: 0.1)]
        var passed = Self.results(rows, floor: 0.1)
        passed.config["data"] = "eight-gaussians"
        passed.comparisons = [2, 4, 8].map { StudyComparison(a: "mct S=1 ddim-1", b: "mct S=\($0) ddim-\($0)", difference: interval(0.2, 0.4)) }
            + [(1, (0.3, 0.5)), (2, (0.1, 0.2)), (4, (0.01, 0.03)), (8, (-0.01, 0.02))].map { s, range in
                StudyComparison(a: "mct S=\(s) ddim-\(s)", b: "diffusion S=64 ddim-64", difference: interval(range.0, range.1))
            }
        passed.teacherGate = TeacherGate(metric: "SWD", teacherDistance: 0.12, noiseFloor: 0.1)
        var failed = passed
        failed.teacherGate = TeacherGate(metric: "SWD", teacherDistance: 0.5, noiseFloor: 0.1)
        let report = StudyReport.markdown(passed)
        let opening = report.components(separatedBy: "\n").dropFirst(2).first ?? ""
        #expect(opening.hasPrefix("**The answer.** On eight-gaussians (teacher gate passed): MCT at one step is worse than S = 2 (0.3000 [0.2000, 0.4000]), "
                                   + "S = 4 (0.3000 [0.2000, 0.4000]) and S = 8 (0.3000 [0.2000, 0.4000]); "
                                   + "MCT first reaches 64-step diffusion at S = 8 (not separable: 0.0050 [-0.0100, 0.0200])."), "\(opening)")
        var withRecipe = passed
        withRecipe.study += [1, 2].map { Self.row("scm", $0, "scm", seed: 0, swd: 0.1) }
        withRecipe.summary = StudySummary.of(withRecipe.study)
        withRecipe.comparisons += [StudyComparison(a: "scm S=1 scm-1", b: "diffusion S=64 ddim-64", difference: interval(-0.01, 0.02)),
                                   StudyComparison(a: "scm S=1 scm-1", b: "mct S=1 ddim-1", difference: interval(-0.6, -0.4)),
                                   StudyComparison(a: "scm S=1 scm-1", b: "ct S=1 cm-1", difference: interval(-0.8, -0.6)),
                                   StudyComparison(a: "scm S=2 scm-2", b: "diffusion S=64 ddim-64", difference: interval(0.01, 0.03))]
        let recipeLine = StudyAnswer.sentence(withRecipe, data: "eight-gaussians")
        #expect(recipeLine.hasSuffix("sCT (from scratch, 1 seed) is at 1 step not separable from 64-step diffusion (0.0050 [-0.0100, 0.0200]), "
                                     + "better than MCT S = 1 (-0.5000 [-0.6000, -0.4000]), better than CT (-0.7000 [-0.8000, -0.6000]) "
                                     + "and at 2 steps worse than 64-step diffusion "
                                     + "(0.0200 [0.0100, 0.0300])."), "\(recipeLine)")
        let both = StudyAnswer.paragraph([("eight-gaussians", passed), ("checkerboard", failed)])
        #expect(both.contains("On checkerboard nothing is decided: the diffusion teacher failed the gate (it scores 5.00x the noise floor)"), "\(both)")
    }

    /// The best model at each step count: the lowest estimate leads, its paired differences sort the rest into those it
    /// beats and those it cannot be told from, a count with one model is not ranked, and two sets' common leaders are named.
    @Test func theBestModelAtEachStepCountIsNamedWithThoseItCannotBeToldFrom() {
        let noise = (0 ..< 64).map { 0.02 * sin(Double($0)) }
        var intervals = StudyIntervals()
        for (configuration, distance) in [("mct S=1 ddim-1", 0.5), ("ct S=1 cm-1", 0.6), ("diffusion S=2 ddim-2", 0.9), ("mct S=2 ddim-2", 0.3),
                                          ("mcd S=2 ddim-2", 0.35), ("scd S=2 scm-2", 0.1), ("scd S=4 scm-4", 0.1)] {
            intervals.record(configuration, seed: 0, (distance, noise.map { distance + $0 }))
        }
        // sCT lies 0.01 behind sCD with its own wobble of 0.03: the pair cannot be separated.
        intervals.record("scm S=2 scm-2", seed: 0, (0.11, noise.indices.map { 0.11 + noise[$0] + 0.03 * cos(3 * Double($0)) }))
        let estimates = Dictionary(uniqueKeysWithValues: intervals.measured.keys.compactMap { c in intervals.interval(c).map { (c, $0) } })
        let rankings = StudyRanking.rank(StudyFamily.standard + [.scm, .scd], estimates: estimates, intervals: intervals)
        #expect(rankings.map(\.steps) == [1, 2])
        #expect(rankings.map(\.leader) == ["mct S=1 ddim-1", "scd S=2 scm-2"])
        let two = rankings[1].byVerdict
        #expect(two.better.map(\.b) == ["diffusion S=2 ddim-2", "mct S=2 ddim-2", "mcd S=2 ddim-2"])
        #expect(two.notSeparable.map(\.b) == ["scm S=2 scm-2"] && two.worse.isEmpty)
        let clause = StudyAnswer.clause(rankings[1], metric: "SWD")
        #expect(clause.hasPrefix("at 2 steps sCD (SWD 0.") && clause.contains(") leads but is not separable from sCT (-0.0")
                && clause.hasSuffix("), and better than diffusion's DDIM, MCT and MCD"), "\(clause)")
        var r = Self.results([], floor: 0.1)
        r.rankings = rankings
        r.teacherGate = TeacherGate(metric: "SWD", teacherDistance: 0.12, noiseFloor: 0.1)
        let best = StudyAnswer.best([("eight-gaussians", r), ("checkerboard", r)]) ?? ""
        #expect(best.hasPrefix("**Best at 1, 2 and 4 steps.** On eight-gaussians: at 1 step MCT (SWD 0."), "\(best)")
        #expect(best.contains(") is best, better than CT; at 2 steps sCD"), "\(best)")
        #expect(best.hasSuffix(" On every data set MCT leads at 1 step and sCD leads at 2 steps."), "\(best)")
        #expect(StudyReport.markdown(r).contains("| 2 | scd S=2 scm-2 | scm S=2 scm-2 | -0.0"))
        var failed = r
        failed.teacherGate = TeacherGate(metric: "SWD", teacherDistance: 0.5, noiseFloor: 0.1)
        #expect(StudyAnswer.best([("checkerboard", failed)]) == "**Best at 1, 2 and 4 steps.** On checkerboard no model is ranked: the diffusion teacher failed the gate.")
    }

    /// Two data sets: the index lists both gates and reports only the verdict both sets reach.
    @Test func theIndexGathersVerdictsAcrossDataSets() {
        let interval = { (lo: Double, hi: Double) in ConfidenceInterval(estimate: (lo + hi) / 2, lower: lo, upper: hi, confidence: 0.95) }
        func results(_ second: (Double, Double)) -> StudyResults {
            var r = Self.results([Self.row("diffusion", 64, "ddim", seed: 0, swd: 0.12)], floor: 0.1)
            r.comparisons = [StudyComparison(a: "mct S=1 ddim-1", b: "mct S=2 ddim-2", difference: interval(0.1, 0.2)),
                             StudyComparison(a: "mct S=4 ddim-4", b: "mct S=8 ddim-8", difference: interval(second.0, second.1))]
            r.teacherGate = TeacherGate(metric: "SWD", teacherDistance: 0.12, noiseFloor: 0.1)
            return r
        }
        let collection = StudyCollection(dataSets: [.init(data: "eight-gaussians", folder: "eight-gaussians", results: results((0.01, 0.02))),
                                                    .init(data: "checkerboard", folder: "checkerboard", results: results((-0.01, 0.02)))])
        let index = StudyReport.index(collection)
        #expect(index.contains("[checkerboard](checkerboard/report.md)"))
        #expect(index.contains("| mct S=4 ddim-4 | mct S=8 ddim-8 | 0.0150 [0.0100, 0.0200] worse | 0.0050 [-0.0100, 0.0200] not separable |"), "\(index)")
        #expect(index.contains("Verdicts that hold on every data set: mct S=1 ddim-1 worse than mct S=2 ddim-2."), "\(index)")
    }

    /// The judged pairs, in the order results.json and the reports list them: each multistep model against 64-step
    /// diffusion, S against 2S and one step against S = 4 and 8; one-step CT and CD against the teacher; MCT S = 8
    /// against 8 DDIM steps; then each recipe row by row, in the order `--recipes` named them (sCD against the
    /// distilled models too).
    @Test func thePairsKeepTheirOrder() {
        let pairs = StudyIntervals.pairs(StudyFamily.standard + [.ect, .scm, .scd])
        let name = { (method: String, s: Int, sampler: String) in StudyRow.configuration(method, segments: s, sampler: sampler) }
        let teacher = name("diffusion", 64, "ddim")
        var expected: [(String, String)] = []
        for method in ["mct", "mcd"] {
            expected += [1, 2, 4, 8, 16].map { (name(method, $0, "ddim"), teacher) }
            expected += [(1, 2), (2, 4), (4, 8), (8, 16), (1, 4), (1, 8)].map { (name(method, $0.0, "ddim"), name(method, $0.1, "ddim")) }
        }
        expected += [(name("ct", 1, "cm"), teacher), (name("cd", 1, "cm"), teacher), (name("mct", 8, "ddim"), name("diffusion", 8, "ddim"))]
        for (method, sampler, distilled) in [("ect", "cm", false), ("scm", "scm", false), ("scd", "scm", true)] {
            for steps in [1, 2, 4] {
                let row = name(method, steps, sampler)
                expected += [(row, teacher), (row, name("mct", steps, "ddim"))] + (distilled ? [(row, name("mcd", steps, "ddim"))] : [])
                expected += steps == 1 ? [(row, name("ct", 1, "cm"))] + (distilled ? [(row, name("cd", 1, "cm"))] : []) : []
            }
        }
        #expect(pairs.map { "\($0.a) | \($0.b)" } == expected.map { "\($0.0) | \($0.1)" })
    }

    /// Without intervals the rules run over the multistep models, then one-step CT and CD, then the teacher's DDIM
    /// against MCT at 8; the recipes have no rule here.
    @Test func theRulesWithoutIntervalsKeepTheirOrder() {
        let rows = [("diffusion", 64, "ddim", 0.2), ("diffusion", 8, "ddim", 0.25), ("diffusion", 1, "ddim", 1.2), ("scm", 1, "scm", 0.3),
                    ("cd", 1, "cm", 0.7), ("ct", 1, "cm", 0.6), ("mcd", 2, "ddim", 0.3), ("mcd", 1, "ddim", 0.5), ("mct", 1, "ddim", 0.6),
                    ("mct", 2, "ddim", 0.3), ("mct", 8, "ddim", 0.21)].map { Self.row($0.0, $0.1, $0.2, seed: 0, swd: $0.3) }
        let lines = StudyReport.conclusions(Self.results(rows, floor: 0.005))
        let starts = ["MCT with S = 1 (", "MCT with S = 2 (", "MCT with S = 8 (", "MCT: going from 1 to 2 steps", "MCD with S = 1 (",
                      "MCD with S = 2 (", "MCD: going from 1 to 2 steps", "one-step CT (", "one-step CD (", "Diffusion with DDIM: 1 step",
                      "MCT with S = 8 (SWD 0.2100) is better than 8-step DDIM on the diffusion model", "No run diverged."]
        #expect(lines.count == starts.count && zip(lines, starts).allSatisfy { $0.hasPrefix($1) }, "\(lines)")
    }

    /// The quality figure draws the teacher's samplers, then the multistep, one-step and newer models, whatever the
    /// rows' order.
    @Test func theQualityFigureKeepsItsSeriesOrder() throws {
        let rows = [("ect", "cm"), ("shortcut", "shortcut"), ("meanflow", "meanflow"), ("scm", "scm"), ("cd", "cm"), ("ct", "cm"), ("mcd", "ddim"),
                    ("mct", "ddim"), ("diffusion", "addim"), ("diffusion", "ddim")].map { Self.row($0.0, 1, $0.1, seed: 0, swd: 0.3) }
        let svg = StudyPlots.quality(Self.results(rows, floor: 0.005))
        let legend = try Regex("text-anchor='start' font-size='12'>([^<]*)</text>")
        #expect(svg.matches(of: legend).map { String($0.output[1].substring ?? "") }
                == ["diffusion DDIM", "diffusion aDDIM", "MCT", "MCD", "CT (1 step)", "CD (1 step)", "sCT", "MeanFlow", "Shortcut", "ECT"])
    }

    @Test func lossNoiseAndGradientSpikesAreMeasuredFromTheLog() {
        var record = TrainingRecord()
        record.losses = Array(repeating: 1, count: 80) + (0 ..< 20).map { $0 % 2 == 0 ? 1.1 : 0.9 }
        record.gradientNorms = Array(repeating: 1, count: 30) + [50] + Array(repeating: 1, count: 10) + [5]
        #expect(abs(record.lossNoise - 0.1 * (20.0 / 19.0).squareRoot()) < 1e-6)
        #expect(record.gradientSpikes == 1)
    }
}

@Suite struct StudyMachineryTests {
    @Test func aTinyStudyProducesACompleteConsistentReport() throws {
        try SharedEngine.withEngine { engine in
            var settings = StudyPreset(seeds: 1, iterations: 10, batch: 32, width: 8, depth: 1, samples: 64)
            settings.recipes = StudyFamily.recipes
            settings.gradientBatches = 8
            let spec = try DataSpec.parse("eight-gaussians")
            let study = try Study(engine: engine, spec: spec, settings: settings, log: { _ in })
            let results = try study.run(diagnostics: true)
            // 7 DDIM + 7 aDDIM diffusion rows, CT, CD, MCT/MCD at five S each, and the five recipes at 1, 2 and 4 steps.
            #expect(results.study.count == 41)
            #expect(Set(results.study.map(\.method)) == ["diffusion", "ct", "cd", "mct", "mcd", "scm", "scd", "meanflow", "shortcut", "ect"])
            #expect(results.summary.count == 41 && study.ledger.total == 41)
            for (row, summary) in zip(results.study, results.summary) where !row.diverged {
                #expect(summary.swdMean == row.swd, "\(row.configuration)")
            }
            let diagnostics = try #require(results.diagnostics)
            #expect(diagnostics.curvature.map(\.segments) == [1, 2, 4, 8])
            #expect(diagnostics.gradientVariance.count == 5 && diagnostics.gradientVariance.allSatisfy { $0.batches == 8 })
            #expect(Set(diagnostics.exactODEError.map(\.method)) == ["diffusion", "ct", "cd", "mct", "mcd", "scm", "scd", "meanflow", "shortcut", "ect"])
            // Each recipe with a probe has its gradient spread as trained and under each variant, the variants differing.
            for family in StudyFamily.recipes {
                let rows = diagnostics.probes.filter { $0.method == family.name }
                #expect(rows.map(\.variant) == (family.probe?.variants.map(\.label) ?? []), "\(family.name)")
                #expect(rows.allSatisfy { $0.relativeVariance.isFinite && $0.relativeVariance > 0 }, "\(family.name)")
                #expect(Set(rows.map(\.relativeVariance)).count == rows.count, "\(family.name): \(rows.map(\.relativeVariance))")
            }
            #expect(diagnostics.probes.map(\.method) == ["scm", "scm", "meanflow", "meanflow", "meanflow", "shortcut", "shortcut", "shortcut", "ect", "ect"])
            #expect(results.comparisons.contains { $0.a == "scm S=2 scm-2" && $0.b == "mct S=2 ddim-2" })
            #expect(results.comparisons.contains { $0.a == "scm S=1 scm-1" && $0.b == "ct S=1 cm-1" })
            #expect(results.comparisons.contains { $0.a == "scd S=2 scm-2" && $0.b == "mcd S=2 ddim-2" })
            #expect(results.comparisons.contains { $0.a == "scd S=1 scm-1" && $0.b == "cd S=1 cm-1" })
            // The best at 1 step ranks diffusion, MCT, MCD, CT, CD and the five recipes; at 2 and 4 steps all but CT and CD.
            #expect(results.rankings.map(\.steps) == [1, 2, 4] && results.rankings.map(\.comparisons.count) == [9, 7, 7])
            #expect(diagnostics.exactODEError.allSatisfy { $0.meanDistance.isFinite && $0.meanDistance > 0 })
            // Each multistep CT model of the curvature's S has its loss split into its S segments, beside the curvature.
            #expect(diagnostics.segmentLosses.map(\.segments) == [1, 2, 4, 8])
            for row in diagnostics.segmentLosses {
                #expect(row.perSegment.map(\.tStep) == (0 ..< row.segments).map { Double($0) / Double(row.segments) })
                #expect(row.perSegment.map(\.count).reduce(0, +) == 32 * 32)
            }
            #expect(StudyReport.markdown(results).contains("MCT loss per segment"))
            // Intervals for every finite configuration and the floor, the paired comparisons, and the gate.
            #expect(results.intervals["noise floor"] != nil && results.intervals["mct S=4 ddim-4"] != nil)
            #expect(results.comparisons.contains { $0.a == "mct S=4 ddim-4" && $0.b == "mct S=8 ddim-8" })
            #expect(results.comparisons.allSatisfy { $0.difference.lower <= $0.difference.estimate && $0.difference.estimate <= $0.difference.upper })
            #expect(results.teacherGate?.metric == "SWD")
            // The gate averages its own noise and floor draws: its floor is not the single draw's.
            #expect(results.teacherGate?.draws == Study.gateDraws && results.intervals[Study.gateFloor] != nil)
            #expect(results.teacherGate?.intervalFloor != results.intervals["noise floor"]?.estimate)
            let report = StudyReport.markdown(results)
            for summary in results.summary where summary.swdMean.isFinite {
                #expect(report.contains(String(format: "%.4f ± %.4f", summary.swdMean, summary.swdStd)), "\(summary.configuration)")
            }
            let encoder = JSONEncoder()
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            let json = try JSONSerialization.jsonObject(with: encoder.encode(results)) as? [String: Any]
            for key in ["study", "noise_floor", "diagnostics", "summary", "intervals", "comparisons", "teacher_gate"] {
                #expect(json?[key] != nil, "missing \(key)")
            }
            let first = (json?["study"] as? [[String: Any]])?.first
            for key in ["method", "segments", "steps", "seed", "swd", "mmd", "energy", "diverged"] { #expect(first?[key] != nil, "missing \(key)") }
        }
    }
}

@Suite struct ImageStudyTests {
    /// The image study end to end on 8x8 grey images and a tiny U-Net: every configuration scored on random
    /// features with a noise floor, DDIM alone, and one sample grid per configuration.
    @Test func aTinyImageStudyTrainsTheUNetAndDrawsAGridPerConfiguration() throws {
        try SharedEngine.withEngine { engine in
            var settings = StudyPreset.quickImages
            (settings.iterations, settings.consistencyIterations, settings.samples, settings.batch) = (4, 2, 32, 8)
            settings.bootstrapReplicates = 2
            settings.recipes = StudyFamily.recipes
            settings.unetChannels = 8
            settings.unetChannelMult = [1, 2]
            let shape = ImageShape(height: 8, width: 8, channels: 1)
            let values: [Float] = (0 ..< 64 * 64).map { (i: Int) -> Float in
                let phase = 0.3 * Double(i % 64) + Double(i / 64)
                return Float(sin(phase))
            }
            let spec = DataSpec.images(URL(fileURLWithPath: "tiny.npy"), PointSet(count: 64, dimension: 64, values: values), shape)
            let study = try Study(engine: engine, spec: spec, settings: settings, log: { _ in })
            #expect(study.denoiser.architecture == .unet && study.denoiser.unet?.channels == 8)
            let results = try study.run(diagnostics: false)
            // 7 DDIM diffusion rows (no aDDIM for images), CT, CD, MCT and MCD at five S, and the five newer recipes
            // at 1, 2 and 4 steps, which train and sample the U-Net as they do the resmlp.
            #expect(results.study.count == 34 && study.ledger.total == 34 && !results.study.contains { $0.sampler == "addim" })
            for recipe in StudyFamily.recipes {
                for steps in recipe.steps {
                    let name = StudyRow.configuration(recipe.name, segments: steps, sampler: recipe.sampler)
                    #expect(results.study.contains { $0.configuration == name }, "\(name) missing")
                    #expect(results.comparisons.between(name, "diffusion S=64 ddim-64") != nil || results.study.contains { $0.configuration == name && $0.diverged })
                }
            }
            #expect(results.study.allSatisfy { $0.fd != nil || $0.diverged })
            #expect(results.imageNoiseFloor != nil && results.imageNoiseFloor?.coverage == nil)
            // Paired FD and KID intervals for every scored configuration; an image file's floor has its own reference
            // (the other half of the file), so it has no interval and the gate falls back to the ratio of means.
            let scored = Set(results.study.filter { $0.fd != nil }.map(\.configuration))
            #expect(Set(results.intervals.keys) == scored && Set(results.kidIntervals.keys) == scored, "\(results.intervals.keys)")
            #expect(results.intervals.allSatisfy { $0.value.lower <= $0.value.upper } && !results.comparisons.isEmpty)
            #expect(results.teacherGate?.metric == "FD" && results.teacherGate?.excess == nil)
            #expect(results.config["image_features"]?.contains("random convolutional") == true)
            #expect(results.config["consistency_iterations"] == "2")
            #expect(study.extras.grids.count == 34 && study.extras.grids.allSatisfy { $0.images.count == 32 })
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("steplab-image-study-\(UUID())")
            defer { try? FileManager.default.removeItem(at: folder) }
            let grids = try StudyPlots.writeGrids(study.extras, shape: shape, to: folder)
            #expect(grids.count == 34 && grids.allSatisfy { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0.path).path) })
            #expect(StudyReport.markdown(results, grids: grids).contains("[mct-s8](samples/mct-s8.png)"))
        }
    }
}

@Suite struct BenchCommandLineTests {
    static func run(_ arguments: [String]) throws -> (status: Int32, err: String) {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("bench").path), directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        let process = Process()
        process.executableURL = directory.appendingPathComponent("bench")
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(arguments: [
        (["study", "--preset", "huge"], "--preset must be quick or full"),
        (["study", "--data", "no-such-set"], "unknown data set 'no-such-set': use one of eight-gaussians"),
        (["study", "--device", "no-such-device"], "no OpenCL device matches 'no-such-device'"),
        (["study", "--seeds", "0"], "--seeds must be at least 1"),
        (["study", "--side-by-side", "0"], "--side-by-side must be at least 1"),
        (["study", "--recipes", "scm,nope"], "--recipes takes scm, scd, meanflow, shortcut and ect, comma-separated, or all or none (got scm,nope)"),
    ])
    func badOptionsAreOneClearLine(arguments: [String], phrase: String) throws {
        let result = try Self.run(arguments + ["--out", FileManager.default.temporaryDirectory.appendingPathComponent("bench-bad-\(UUID())").path])
        #expect(result.status != 0)
        #expect(result.err.contains(phrase), "stderr: \(result.err)")
    }
}
