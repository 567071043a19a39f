import Foundation
import Testing
import StepLabData
import StepLabEngine

/// One engine for this test target. OpenCL kernel objects carry argument state, so every test that uses it
/// runs under one lock; POCL already spreads each kernel over all cores. (A copy of StepLabEngineTests' helper:
/// test targets cannot import each other.)
enum Shared {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var engine: Engine?

    static func withEngine<R>(_ body: (Engine) throws -> R) throws -> R {
        lock.lock()
        defer { lock.unlock() }
        if engine == nil { engine = try Engine() }
        return try body(engine!)
    }
}

/// A fresh folder under the temporary directory, removed when `body` returns.
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

/// Expects `actual` to match `expected` elementwise within `atol + rtol * |expected|`, naming the worst element.
func expectClose(_ actual: [Float], _ expected: [Float], rtol: Float, atol: Float, _ what: String = "",
                 sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    var worst: (ratio: Float, index: Int) = (0, 0)
    for i in actual.indices {
        let ratio = actual[i].isFinite ? abs(actual[i] - expected[i]) / (atol + rtol * abs(expected[i])) : .infinity
        if ratio > worst.ratio { worst = (ratio, i) }
    }
    #expect(worst.ratio <= 1, "\(what): element \(worst.index) is \(actual[worst.index]), expected \(expected[worst.index])",
            sourceLocation: sourceLocation)
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
