import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// Self-attention against its float64 twin on awkward shapes in both forward variants, and its backward (which reads
/// the forward's probabilities) against central differences of the twin.
@Suite struct AttentionTests {
    /// Shapes (samples, tokens, channels, heads) for the work-group forward's edges: one token, tokens short of a row
    /// tile (33), more tokens than a work-group (196, 300) over several key tiles, heads 1 to 64 wide.
    @Test(arguments: AttentionVariant.allCases,
          [(1, 1, 4, 1), (2, 5, 6, 3), (3, 7, 4, 2), (2, 49, 64, 2), (1, 9, 5, 1), (2, 33, 6, 3), (1, 20, 128, 2),
           (1, 196, 8, 2), (1, 300, 3, 3)])
    func attentionMatchesItsReferenceAndFiniteDifferences(variant: AttentionVariant, shape: (Int, Int, Int, Int)) throws {
        let (samples, tokens, channels, heads) = shape
        try SharedEngine.withEngine(attention: variant) { engine in
            var random = TestRandom(seed: UInt64(samples * 1000 + tokens * 10 + channels))
            let rows = samples * tokens, width = channels / heads
            let qkvValues = random.array(rows * 3 * channels, -2, 2), probe = random.array(rows * channels)
            let qkv = try engine.tensor(qkvValues, rows: rows, columns: 3 * channels)
            let output = try engine.tensor(rows: rows, columns: channels)
            let probabilities = try engine.tensor(rows: rows * heads, columns: tokens)
            try engine.attention(qkv, tokens: tokens, heads: heads, probabilities: probabilities, into: output)
            let qkvDoubles = qkvValues.map(Double.init)
            let expected = Reference.attention(qkvDoubles, tokens: tokens, channels: channels, heads: heads)
            expectClose(try output.download(), expected.output.map(Float.init), rtol: 1e-4, atol: 1e-5, "output")
            expectClose(try probabilities.download(), expected.probabilities.map(Float.init), rtol: 1e-4, atol: 1e-6, "probabilities")

            let gradient = try engine.tensor(rows: rows, columns: 3 * channels)
            let scores = try engine.tensor(rows: rows * heads, columns: tokens)
            try engine.attentionBackward(engine.tensor(probe, rows: rows, columns: channels), qkv: qkv, tokens: tokens, heads: heads,
                                         probabilities: probabilities, scoresGradient: scores, into: gradient)
            // The loss is sum(probe * o); an entry of qkv moves only its own sample's head, so each difference quotient
            // runs the twin on that head alone (tokens x 3d).
            func headLoss(_ values: [Double], sample n: Int, head h: Int) -> Double {
                let head = (0 ..< tokens).flatMap { t in
                    (0 ..< 3).flatMap { part in (0 ..< width).map { values[(n * tokens + t) * 3 * channels + part * channels + h * width + $0] } }
                }
                let attended = Reference.attention(head, tokens: tokens, channels: width, heads: 1).output
                return attended.indices.reduce(0) { $0 + attended[$1] * Double(probe[(n * tokens + $1 / width) * channels + h * width + $1 % width]) }
            }
            // Every entry on small shapes; on larger ones a spread of 40 (q, k and v columns alike), 12 past 100 tokens.
            let got = try gradient.download()
            let spread = tokens > 100 ? 12 : 40
            let indices = qkvValues.count <= 1000 ? Array(qkvValues.indices)
                : stride(from: 7, to: qkvValues.count, by: qkvValues.count / spread).map { $0 }
            for i in indices {
                let n = i / (3 * channels * tokens), h = (i % channels) / width
                var plus = qkvDoubles, minus = qkvDoubles
                plus[i] += 1e-5; minus[i] -= 1e-5
                let difference = (headLoss(plus, sample: n, head: h) - headLoss(minus, sample: n, head: h)) / 2e-5
                expectClose([got[i]], [Float(difference)], rtol: 2e-3, atol: 2e-5, "dqkv[\(i)]")
            }
        }
    }

    /// The variant follows the device type (this suite's CPU: a work-item per row) unless STEPLAB_ATTENTION names one.
    @Test func theVariantFollowsTheDeviceUnlessTheEnvironmentNamesOne() throws {
        try SharedEngine.withEngine { engine in
            let byDevice = try Engine(context: engine.context, environment: [:]).attentionVariant
            let named = try Engine(context: engine.context, environment: ["STEPLAB_ATTENTION": "workGroup"]).attentionVariant
            #expect(byDevice == (engine.device.kind == .gpu ? AttentionVariant.workGroup : .perRow))
            #expect(named == .workGroup)
            #expect(throws: OpenCLError.invalidRequest("STEPLAB_ATTENTION must be perRow or workGroup, got 'gpu'")) {
                _ = try Engine(context: engine.context, environment: ["STEPLAB_ATTENTION": "gpu"])
            }
        }
    }

    @Test func mismatchedShapesAreRefused() throws {
        try SharedEngine.withEngine { engine in
            let qkv = try engine.tensor(rows: 6, columns: 12)
            let output = try engine.tensor(rows: 6, columns: 4)
            #expect(throws: OpenCLError.self) {
                try engine.attention(qkv, tokens: 3, heads: 3, probabilities: engine.tensor(rows: 18, columns: 3), into: output)
            }
            #expect(throws: OpenCLError.self) {
                try engine.attention(qkv, tokens: 4, heads: 1, probabilities: engine.tensor(rows: 6, columns: 4), into: output)
            }
            #expect(throws: OpenCLError.self) {
                try engine.attention(qkv, tokens: 3, heads: 2, probabilities: engine.tensor(rows: 12, columns: 2), into: output)
            }
        }
    }
}
