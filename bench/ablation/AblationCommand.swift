import ArgumentParser
import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// `bench ablation`: the study's multistep CT recipe against variants that change one thing each, at S = 4 and 8.
struct AblationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablation",
        abstract: "Why multistep CT at S = 4 and 8 does not close on diffusion: the study's recipe against one-change variants.",
        discussion: """
        Per seed: the study's diffusion teacher, then multistep CT from it with the study's recipe and with each variant \
        (teacher steps fixed at 64 or 1280 instead of annealed, pseudo-Huber c = 1, EMA 0.999, raw weights, a tenth of \
        the learning rate, 4x the iterations). Paired bootstrap intervals against the recipe and against the teacher's \
        own DDIM at S steps. 2-D data only.
        """
    )

    @OptionGroup var options: StudyOptions
    @Option(help: "Segment counts S, comma-separated.") var segments = "4,8"

    func run() throws {
        let data = options.data ?? "eight-gaussians"
        let spec: DataSpec
        do { spec = try DataSpec.parse(data) } catch { throw ValidationError(error.description) }
        guard spec.imageShape == nil else { throw ValidationError("ablation: 2-D data only (got \(data))") }
        let counts = segments.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.count == segments.split(separator: ",").count, counts.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--segments must be positive integers like 4,8 (got \(segments))")
        }
        var settings = StudyPreset.named(options.preset, images: false)
        if let seeds = options.seeds { settings.seeds = seeds }
        if let iterations = options.iterations { settings.iterations = iterations }
        if let samples = options.samples { settings.samples = samples }
        let folder = URL(fileURLWithPath: options.out ?? "bench-out/ablation-\(StudyCommand.timestamp())")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let engine = try Engine(device: options.device)
            let study = try Study(engine: engine, spec: spec, settings: settings, log: { print($0); fflush(nil) })
            let started = Date()
            var ablation = MultistepAblation(study: study, segments: counts)
            var results = try ablation.run()
            results.config = ["data": data, "preset": options.preset, "seeds": String(settings.seeds), "samples": String(settings.samples),
                              "teacher_iterations": String(settings.iterations), "iterations": String(settings.fineTuning),
                              "batch": String(settings.batch), "network": study.denoiser.summary, "lr": String(settings.learningRate),
                              "consistency_lr": String(settings.consistencyLearningRate ?? settings.learningRate),
                              "ema": String(settings.emaDecay), "device": engine.device.name, "commit": Study.commit(),
                              "wall_seconds": String(format: "%.0f", Date().timeIntervalSince(started))]
            try JSONOutput.write(results, to: folder.appendingPathComponent("results.json").path)
            let report = results.markdown()
            try AtomicFile.write(Data(report.utf8), to: folder.appendingPathComponent("report.md"))
            print("\n" + report)
            print("wrote \(folder.path)/report.md and results.json")
        } catch let error as OpenCLError {
            throw RuntimeError(error.description)
        } catch let error as CocoaError {
            throw RuntimeError("cannot write \(folder.path): \(error.localizedDescription)")
        }
    }
}
