import ArgumentParser
import Foundation
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

    /// Two disjoint random halves of `points`.
    static func halves(_ points: PointSet, seed: UInt64) -> (PointSet, PointSet) {
        var random = HostRandom(seed: seed)
        var order = Array(0 ..< points.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        func take(_ indices: ArraySlice<Int>) -> PointSet {
            PointSet(count: indices.count, dimension: points.dimension,
                     values: indices.flatMap { points.values[$0 * points.dimension ..< ($0 + 1) * points.dimension] })
        }
        let half = points.count / 2
        return (take(order[..<half]), take(order[half ..< 2 * half]))
    }
}
