import Foundation
import StepLabTestSupport
import Testing
import StepLabData
import StepLabEngine

func withTemporaryDirectory<R>(_ body: (URL) throws -> R) throws -> R {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steplab-data-\(UUID())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try body(directory)
}

/// Expects `body` to throw a `DataError` whose message contains every one of `phrases`; returns the message.
@discardableResult
func expectDataError(_ phrases: String..., sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) -> String? {
    do {
        try body()
        Issue.record("expected an error containing \(phrases)", sourceLocation: sourceLocation)
    } catch let error as DataError {
        for phrase in phrases {
            #expect(error.message.contains(phrase), "'\(error.message)' lacks '\(phrase)'", sourceLocation: sourceLocation)
        }
        #expect(!error.message.contains("\n"), "not one line: \(error.message)", sourceLocation: sourceLocation)
        return error.message
    } catch {
        Issue.record("expected a DataError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Per-column mean and (population) standard deviation of row-major 2-D points, in Double.
func columnMoments(_ values: [Float]) -> (mean: SIMD2<Double>, std: SIMD2<Double>) {
    let n = Double(values.count / 2)
    var sum = SIMD2<Double>.zero, squares = SIMD2<Double>.zero
    for i in 0 ..< values.count / 2 { sum += SIMD2(Double(values[2 * i]), Double(values[2 * i + 1])) }
    let mean = sum / n
    for i in 0 ..< values.count / 2 {
        let d = SIMD2(Double(values[2 * i]), Double(values[2 * i + 1])) - mean
        squares += d * d
    }
    return (mean, (squares / n).squareRoot())
}
