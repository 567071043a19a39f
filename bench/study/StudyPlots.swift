import Foundation
import StepLabData
import StepLabGenerative

/// The study's figures, as SVG files next to report.md.
enum StudyPlots {
    /// Extra per-run data the figures need that results.json does not keep.
    struct Extras {
        /// Seed 0's samples (data units, row-major n x 2) per configuration, in run order.
        var samples: [(label: String, points: [Float])] = []
        /// Logged losses per configuration and seed, every `logEvery` steps.
        var losses: [String: [[Float]]] = [:]
        var logEvery = 10
        var reference: [Float] = []
        /// Images: seed 0's first 64 samples per configuration, named for their grid file.
        var grids: [(name: String, images: PointSet)] = []
    }

    static func write(_ results: StudyResults, extras: Extras, to folder: URL) throws -> [String] {
        var files: [(String, String)] = [("quality.svg", quality(results))]
        if let curvature = results.diagnostics?.curvature, !curvature.isEmpty { files.append(("curvature.svg", curvatureChart(curvature))) }
        if !extras.losses.isEmpty { files.append(("losses.svg", losses(extras))) }
        if !extras.samples.isEmpty, extras.samples.first.map({ $0.points.count % 2 == 0 }) == true, results.study.first != nil {
            files.append(("samples.svg", samples(extras)))
        }
        for (name, svg) in files { try AtomicFile.write(Data(svg.utf8), to: folder.appendingPathComponent(name)) }
        return files.map(\.0)
    }

    /// Writes each image grid of `extras` as `samples/NAME.png` under `folder`; returns (name, relative path).
    static func writeGrids(_ extras: Extras, shape: ImageShape?, to folder: URL) throws -> [(name: String, path: String)] {
        guard let shape, !extras.grids.isEmpty else { return [] }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("samples"), withIntermediateDirectories: true)
        return try extras.grids.map { name, images in
            let path = "samples/\(name).png"
            try AtomicFile.write(PNGImage.grid(images: images, shape: shape, columns: 8).encoded(), to: folder.appendingPathComponent(path))
            return (name, path)
        }
    }

    static func quality(_ r: StudyResults) -> String {
        func series(_ name: String, _ method: String, _ sampler: String) -> SVGPlot.Series {
            SVGPlot.Series(name: name, points: r.summary.filter { $0.method == method && $0.sampler == sampler }
                .map { (x: $0.evaluationsPerSample, y: $0.primaryMean, error: $0.primaryStd.isFinite ? $0.primaryStd : 0) })
        }
        let all = StudyFamily.all.flatMap { family in
            family.samplers.map { sampler in series(seriesName(family, sampler: sampler.name), family.name, sampler.name) }
        }
        let shown = all.filter { !$0.points.isEmpty }
        return SVGPlot().lines(title: "Sample quality against network evaluations (mean ± std over seeds)",
                               xLabel: "network evaluations per sample (S for MCT/MCD)", yLabel: r.imageNoiseFloor == nil ? "sliced Wasserstein (lower is better)" : "Frechet distance on classifier features (lower is better)",
                               series: shown, logX: true, reference: ("noise floor", r.primaryFloor))
    }

    /// Sampler names as the figures print them.
    static let samplerNames = ["ddim": "DDIM", "addim": "aDDIM"]

    /// A family's line in the quality figure: its label, with the sampler when it has several, or "(1 step)".
    static func seriesName(_ family: StudyFamily, sampler: String) -> String {
        if family.samplers.count > 1 { return "\(family.label) \(samplerNames[sampler] ?? sampler)" }
        return family.isOneStep ? "\(family.label) (1 step)" : family.label
    }

    static func curvatureChart(_ rows: [CurvatureRow]) -> String {
        let series = rows.map { row in
            SVGPlot.Series(name: "S = \(row.segments)", points: row.pathOverChord.enumerated().map {
                (x: Double($0.offset + 1), y: $0.element, error: 0)
            })
        }
        return SVGPlot().lines(title: "Teacher trajectory curvature per segment (segment 1 starts at noise)",
                               xLabel: "segment (from t = 1 towards data)", yLabel: "path length / chord", series: series, logX: false,
                               reference: ("straight", 1))
    }

    static func losses(_ extras: Extras) -> String {
        let series = extras.losses.keys.sorted().compactMap { key -> SVGPlot.Series? in
            guard let runs = extras.losses[key], let length = runs.map(\.count).min(), length > 0 else { return nil }
            // Mean over seeds of a 10-point moving average, so the curve shows the trend under the batch noise.
            let mean = (0 ..< length).map { i in runs.map { Double($0[i]) }.reduce(0, +) / Double(runs.count) }
            let smooth = mean.indices.map { i in mean[Swift.max(0, i - 9) ... i].reduce(0, +) / Double(Swift.min(i + 1, 10)) }
            let stride = Swift.max(1, length / 100)
            return SVGPlot.Series(name: key, points: Swift.stride(from: 0, to: length, by: stride).map {
                (x: Double(($0 + 1) * extras.logEvery), y: smooth[$0], error: 0)
            })
        }
        return SVGPlot().lines(title: "Multistep CT training loss (mean over seeds, moving average)", xLabel: "iteration",
                               yLabel: "loss", series: series, logX: false)
    }

    static func samples(_ extras: Extras) -> String {
        let values = extras.reference + extras.samples.flatMap(\.points)
        let finite = values.filter(\.isFinite).map(Double.init).sorted()
        let lo = finite.isEmpty ? -3 : finite[finite.count / 200], hi = finite.isEmpty ? 3 : finite[finite.count - 1 - finite.count / 200]
        let margin = 0.1 * (hi - lo)
        return SVGPlot.scatterGrid(title: "Seed 0 samples (blue) over reference data (grey)",
                                   panels: extras.samples.map { ($0.label, Array($0.points.prefix(2 * 800))) },
                                   reference: Array(extras.reference.prefix(2 * 1500)), columns: 6, extent: (lo - margin, hi + margin))
    }
}
