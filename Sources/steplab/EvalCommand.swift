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
        abstract: "Compare samples with reference data: sliced Wasserstein, MMD (multi-bandwidth RBF), energy distance.",
        discussion: """
        The noise floor is the same metric between two independent reference samples of the same size (fresh draws \
        for a built-in data set; two random halves of a reference file): differences below it are not measurable.
        """
    )

    @Option(help: "Samples file (.csv or .npy).") var samples: String
    @Option(help: "Reference: a built-in data set name or a .csv/.npy file.") var reference: String
    @Option(help: "Seed of the reference draws and the metrics' projections.") var seed: UInt64 = 0
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Option(help: "Device for the image classifier (fashion-mnist): index, gpu|cpu|accelerator, or a name substring.") var device: String?

    func run() throws {
        let points: PointSet
        do { points = try PointSet.read(from: URL(fileURLWithPath: samples)) } catch { throw CLIError("\(error)") }
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
                report = try metrics.report(sample: points, reference: set.points(count: points.count, key: RandomKey(seed: seed, stream: 201)))
                floor = try metrics.report(sample: set.points(count: points.count, key: RandomKey(seed: seed, stream: 202)),
                                           reference: set.points(count: points.count, key: RandomKey(seed: seed, stream: 203)))
            case let .fashionMNIST(train, test):
                try evaluateImages(points, train: train, test: test)
                return
            case let .file(_, all):
                report = try metrics.report(sample: points, reference: all)
                let (a, b) = Self.halves(all, seed: seed)
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

    /// Frechet distance, KID and class coverage on the features of StepLab's own Fashion-MNIST classifier, against
    /// the test split; the noise floor scores as many training images the same way.
    func evaluateImages(_ points: PointSet, train: ImageDataset, test: ImageDataset) throws {
        let floor: ImageQualityReport, report: ImageQualityReport, accuracy: Double
        do {
            let engine = try Engine(device: device)
            let classifier = try ImageClassifier.fashionMNIST(engine: engine) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            accuracy = classifier.testAccuracy
            let quality = try ImageQuality(classifier: classifier, reference: test.images)
            report = try quality.report(points, seed: seed)
            floor = try quality.report(train.images.subsample(count: points.count, seed: seed), seed: seed)
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("\(error)")
        }
        if json {
            struct Output: Encodable {
                let samples: ImageQualityReport
                let noiseFloor: ImageQualityReport
                let classifierTestAccuracy: Double
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(Output(samples: report, noiseFloor: floor, classifierTestAccuracy: accuracy)), as: UTF8.self))
            return
        }
        print("metric                 samples   noise floor")
        print(String(format: "Frechet distance    %10.3f    %10.3f", report.frechetDistance, floor.frechetDistance))
        print(String(format: "KID                 %10.5f    %10.5f  (+- %.5f)", report.kid, floor.kid, report.kidStandardDeviation))
        print(String(format: "classes covered     %10d    %10d  (of %d)", report.coverage.coveredClasses, floor.coverage.coveredClasses,
                     report.coverage.counts.count))
        print(String(format: "KL from uniform     %10.4f    %10.4f", report.coverage.klFromUniform, floor.coverage.klFromUniform))
        print("class histogram: " + zip(test.classNames, report.coverage.counts).map { "\($0) \($1)" }.joined(separator: ", "))
        print(String(format: "(%d samples against the %d test images; features of StepLab's classifier, test accuracy %.2f%%)",
                     points.count, test.images.count, 100 * accuracy))
    }

    /// Two disjoint random halves of `points`.
    static func halves(_ points: PointSet, seed: UInt64) -> (PointSet, PointSet) {
        let order = PointSet.shuffledIndices(points.count, seed: seed), half = points.count / 2
        return (points.rows(order[..<half]), points.rows(order[half ..< 2 * half]))
    }
}
