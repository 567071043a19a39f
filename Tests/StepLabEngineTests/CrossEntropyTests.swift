import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

@Suite struct CrossEntropyTests {
    /// Awkward shapes, and logits up to +-80 where a softmax without the max shift overflows float32.
    @Test(arguments: [(1, 2, Float(1)), (37, 10, 4), (129, 3, 80), (5, 17, 0)])
    func softmaxCrossEntropyMatchesTheReference(rows: Int, classes: Int, scale: Float) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(rows * 31 + classes))
            var logits = random.array(rows * classes, -scale, scale)
            if scale == 0 { logits = Array(repeating: 0.25, count: rows * classes) }  // ties: the first class wins
            let labels = (0 ..< rows).map { _ in Int(random.next() % UInt64(classes)) }
            let z = try engine.tensor(logits, rows: rows, columns: classes)
            let labelBuffer = try engine.context.buffer(labels.map(Int32.init))
            let loss = try engine.tensor(rows: rows, columns: 1), correct = try engine.tensor(rows: rows, columns: 1)
            let gradient = try engine.tensor(rows: rows, columns: classes)
            try engine.softmaxCrossEntropy(logits: z, labels: labelBuffer, perSample: loss, gradient: gradient, correct: correct)
            let expected = Reference.softmaxCrossEntropy(logits: logits, labels: labels, rows: rows, classes: classes)
            expectClose(try loss.download(), expected.perSample, rtol: 1e-5, atol: 1e-5, "loss")
            expectClose(try gradient.download(), expected.gradient, rtol: 1e-4, atol: 1e-7, "gradient")
            #expect(try correct.download() == expected.correct)
            #expect(try loss.download().allSatisfy { $0.isFinite && $0 >= 0 })
        }
    }

    /// The kernel's gradient against central differences of the batch-mean loss computed in float64.
    @Test func gradientMatchesFiniteDifferences() throws {
        try SharedEngine.withEngine { engine in
            let (rows, classes) = (6, 5)
            var random = TestRandom(seed: 5)
            let logits = random.array(rows * classes, -3, 3)
            let labels = (0 ..< rows).map { $0 % classes }
            let gradient = try engine.tensor(rows: rows, columns: classes)
            try engine.softmaxCrossEntropy(logits: engine.tensor(logits, rows: rows, columns: classes),
                                           labels: engine.context.buffer(labels.map(Int32.init)),
                                           perSample: engine.tensor(rows: rows, columns: 1), gradient: gradient,
                                           correct: engine.tensor(rows: rows, columns: 1))
            func meanLoss(_ z: [Float]) -> Double {
                Reference.softmaxCrossEntropy(logits: z, labels: labels, rows: rows, classes: classes).perSample
                    .reduce(0) { $0 + Double($1) } / Double(rows)
            }
            let h: Float = 1e-2
            let numeric = logits.indices.map { k -> Float in
                var plus = logits, minus = logits
                plus[k] += h; minus[k] -= h
                return Float((meanLoss(plus) - meanLoss(minus)) / Double(2 * h))
            }
            expectClose(try gradient.download(), numeric, rtol: 1e-2, atol: 2e-4, "d loss / d logits")
        }
    }

    @Test func labelsAreChecked() throws {
        try SharedEngine.withEngine { engine in
            let z = try engine.tensor(rows: 4, columns: 3)
            #expect(throws: OpenCLError.self) {
                try engine.softmaxCrossEntropy(logits: z, labels: engine.context.buffer([Int32(0), 1]), perSample: engine.tensor(rows: 4, columns: 1),
                                               gradient: engine.tensor(rows: 4, columns: 3), correct: engine.tensor(rows: 4, columns: 1))
            }
        }
    }
}
