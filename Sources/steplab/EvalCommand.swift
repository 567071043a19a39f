import ArgumentParser
import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// `steplab eval`: sample quality against reference data, with the noise floor.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Compare samples with reference data: sliced Wasserstein, MMD (multi-bandwidth RBF), energy distance; FD and KID for images.",
        discussion: """
        The noise floor is the same metric between two independent reference samples of the same size (fresh draws \
        for a built-in data set; two random halves of a reference file): differences below it are not measurable. \
        Images are scored on features: Fashion-MNIST on StepLab's classifier (with class coverage), an NPY image array \
        on a fixed random convolutional network (RandomImageFeatures).
        """
    )

    @Option(help: "Samples file (.csv or .npy; images as rows, or an NPY image array).") var samples: String
    @Option(help: "Reference: a built-in data set name, a .csv/.npy file of points, or an NPY image array.") var reference: String
    @Option(help: "Seed of the reference draws and the metrics' projections.") var seed: UInt64 = 0
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Option(help: "Device for the image classifier (fashion-mnist): index, gpu|cpu|accelerator, or a name substring.") var device: String?

    func run() throws {
        let points: PointSet
        let samplesURL = URL(fileURLWithPath: samples)
        do {
            points = NPYImages.holdsImages(samplesURL) ? try NPYImages.read(from: samplesURL).images : try PointSet.read(from: samplesURL)
        } catch {
            throw CLIError("\(error)")
        }
        let spec: DataSpec
        do { spec = try DataSpec.parse(reference) } catch { throw CLIError(error.description) }
        guard spec.dimension == points.dimension else {
            throw CLIError("samples have dimension \(points.dimension), the reference \(spec.dimension)")
        }
        let metrics = SampleMetrics(seed: seed)
        let report: MetricReport, floor: MetricReport
        do {
            switch spec {
            case let .toy(set):
                report = try metrics.report(sample: points, reference: set.points(count: points.count, key: RandomKey(seed: seed, stream: .evalReference)))
                floor = try metrics.report(sample: set.points(count: points.count, key: RandomKey(seed: seed, stream: .evalFloorSample)),
                                           reference: set.points(count: points.count, key: RandomKey(seed: seed, stream: .evalFloorReference)))
            case .fashionMNIST, .images:
                if case let .images(_, all, _) = spec, all.count < 4 {
                    throw CLIError("\(reference): \(all.count) images are too few for a reference (at least 4)")
                }
                try evaluateImages(points, spec: spec)
                return
            case let .file(_, all):
                report = try metrics.report(sample: points, reference: all)
                let (a, b) = all.disjointHalves(seed: seed)
                floor = try metrics.report(sample: a, reference: b)
            }
        } catch {
            throw CLIError("\(error)")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(["samples": report, "noise_floor": floor]), as: UTF8.self))
        } else {
            print("metric            samples   noise floor")
            print(String(format: "sliced W2      %10.4f    %10.4f", report.swd, floor.swd))
            print(String(format: "MMD^2          %10.5f    %10.5f", report.mmd, floor.mmd))
            print(String(format: "energy         %10.5f    %10.5f", report.energy, floor.energy))
            print("(\(points.count) samples against \(reference))")
        }
    }

    /// Frechet distance, KID and (for a classifier) class coverage on the features of `spec`'s extractor, against
    /// its reference images, with the noise floor `DataSpec.imageFloor` defines.
    func evaluateImages(_ points: PointSet, spec: DataSpec) throws {
        guard let reference = spec.imageReference, let floorSets = spec.imageFloor(count: points.count, seed: seed) else { return }
        var classNames: [String]? = nil
        if case let .fashionMNIST(_, test) = spec { classNames = test.classNames }
        let floor: ImageQualityReport, report: ImageQualityReport, features: String, accuracy: Double?
        do {
            let engine = try Engine(device: device)
            guard let extractor = try spec.imageFeatureExtractor(engine: engine, log: { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }) else { return }
            features = extractor.featureDescription
            accuracy = (extractor as? ImageClassifier)?.testAccuracy
            let quality = try ImageQuality(extractor: extractor, reference: reference)
            report = try quality.report(points, seed: seed)
            let floorQuality = try floorSets.reference.map { try ImageQuality(extractor: extractor, reference: $0) } ?? quality
            floor = try floorQuality.report(floorSets.sample, seed: seed)
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("\(error)")
        }
        if json {
            struct Output: Encodable {
                let samples: ImageQualityReport
                let noiseFloor: ImageQualityReport
                let features: String
                let classifierTestAccuracy: Double?
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(Output(samples: report, noiseFloor: floor, features: features, classifierTestAccuracy: accuracy)), as: UTF8.self))
            return
        }
        print("metric                 samples   noise floor")
        print(String(format: "Frechet distance    %10.3f    %10.3f", report.frechetDistance, floor.frechetDistance))
        print(String(format: "KID                 %10.5f    %10.5f  (+- %.5f)", report.kid, floor.kid, report.kidStandardDeviation))
        if let coverage = report.coverage, let floorCoverage = floor.coverage {
            print(String(format: "classes covered     %10d    %10d  (of %d)", coverage.coveredClasses, floorCoverage.coveredClasses, coverage.counts.count))
            print(String(format: "KL from uniform     %10.4f    %10.4f", coverage.klFromUniform, floorCoverage.klFromUniform))
            if let classNames { print("class histogram: " + zip(classNames, coverage.counts).map { "\($0) \($1)" }.joined(separator: ", ")) }
        }
        print("(\(points.count) samples against \(reference.count) reference images; features of \(features))")
    }
}
