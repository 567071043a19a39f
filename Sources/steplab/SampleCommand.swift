import ArgumentParser
import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// `steplab sample`: draws samples from a trained run.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Sample from a trained run; writes one row per sample in the data's own units.",
        discussion: "Samplers per method, the default first with its steps: "
            + TrainingMethod.all.map { method in
                let steps = method.usesSegments ? "S, one per segment" : "\(method.defaultSampler(segments: 1).steps)"
                return "\(method) " + (["\(method.samplers[0].name) (\(steps))"] + method.samplers.dropFirst().map(\.name)).joined(separator: ", ")
            }.joined(separator: "; ") + "."
    )

    @Option(name: .customLong("run"), help: "Run folder written by `steplab train`.") var runFolder: String
    @Option(help: "Number of samples.") var count: Int
    @Option(help: "Sampling steps (network evaluations for ddim/addim/cm; default per method).") var steps: Int?
    @Option(help: "Sampler (default per method).") var sampler: String?
    @Option(help: "Starting noise: a CSV/NPY file of COUNT x d standard normal values (same noise -> comparable samples).") var noise: String?
    @Option(help: "Seed of the starting noise when --noise is not given.") var seed: UInt64 = 0
    @Flag(help: "Sample with the raw weights instead of the EMA.") var raw = false
    @Option(help: "ddim and addim: clamp every step's x-prediction to [-C, C] in the model's units, as DDPM's clip_denoised does (default 1 for images, whose pixels lie in [-1, 1]; 0 for other data; 0 disables).")
    var clip: Float?
    @Option(help: "Output file, .csv or .npy.") var out: String
    @Option(help: "Also write a PNG (no external tools): a grid of the first 100 samples for image data, a scatter plot over the training data for 2-D data.")
    var plot: String?
    @Option(help: "Device: index, gpu|cpu|accelerator, or a name substring.") var device: String?

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive (got \(count))") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1 (got \(steps))") }
        let ext = URL(fileURLWithPath: out).pathExtension.lowercased()
        guard ext == "csv" || ext == "npy" else { throw ValidationError("--out must end in .csv or .npy (got \(out))") }
    }

    func run() throws {
        let folder = RunFolder(runFolder)
        let config = try folder.loadConfig()
        let defaults = config.method.defaultSampler(segments: config.segments)
        let samplerName = sampler ?? defaults.sampler.name
        guard let chosen = config.method.sampler(named: samplerName) else {
            throw CLIError("sampler '\(samplerName)' does not fit a \(config.method) model; use one of "
                           + config.method.samplers.map(\.name).joined(separator: ", "))
        }
        if plot != nil && config.dimension != 2 && config.imageShape == nil {
            throw CLIError("--plot draws 2-D points or images; this run's data has dimension \(config.dimension)")
        }
        if let clip, !(clip >= 0) { throw CLIError("--clip must be 0 (off) or positive (got \(clip))") }
        let steps = steps ?? (samplerName == defaults.sampler.name ? defaults.steps : 32)
        if config.method.space != .edm && steps > 4096 { throw CLIError("--steps \(steps) is beyond the schedule (at most 4096)") }
        do {
            let engine = try Engine(device: device)
            let model = try folder.loadModel(engine: engine, config: config, ema: !raw)
            let d = config.dimension
            let start = try engine.tensor(rows: count, columns: d)
            if let noise {
                let points: PointSet
                do { points = try PointSet.read(from: URL(fileURLWithPath: noise)) } catch { throw CLIError("\(error)") }
                guard points.count == count, points.dimension == d else {
                    throw CLIError("--noise \(noise) holds \(points.count) x \(points.dimension) values; this needs \(count) x \(d)")
                }
                try start.upload(points.values)
            } else {
                try engine.normal(into: start, key: RandomKey(seed: seed, stream: .sampleNoise))
            }
            let began = Date()
            let request = ModelSampler.Request(model: model, noise: start, steps: steps, key: RandomKey(seed: seed, stream: .consistencyRenoise),
                                               clip: clip ?? DataSpec.sampleClip(data: config.data))
            let (samples, evaluations) = try chosen.draw(request)
            let standardised = PointSet(count: count, dimension: d, values: try samples.download())
            let points = try Normalization(mean: config.mean, std: config.std).invert(standardised)
            guard points.values.allSatisfy(\.isFinite) else { throw CLIError("sampling produced non-finite values; nothing written") }
            do { try points.write(to: URL(fileURLWithPath: out)) } catch { throw CLIError("\(error)") }
            if let plot { try Self.writePlot(points: points, config: config, seed: seed, to: URL(fileURLWithPath: plot)) }
            print(String(format: "wrote %d samples to %@ (%@, %.2f network evaluations per sample, %.2f s)", count, out,
                         samplerName, evaluations, Date().timeIntervalSince(began)))
        } catch let error as OpenCLError {
            throw CLIError(error.description)
        }
    }

    static func writePlot(points: PointSet, config: RunConfig, seed: UInt64, to url: URL) throws {
        let image: PNGImage
        if let shape = config.imageShape {
            image = PNGImage.grid(images: points.rows(0 ..< Swift.min(points.count, 100)), shape: shape)
        } else {
            image = PNGImage.scatter(points: points, reference: (try? DataSpec.parse(config.data))?.referencePoints(count: points.count, seed: seed))
        }
        try AtomicFile.write(image.encoded(), to: url)
    }
}
