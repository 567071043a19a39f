import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// Self-attention against its float64 twin on awkward shapes, and its backward against central differences of
/// the twin.
@Suite struct AttentionTests {
    @Test(arguments: [(1, 1, 4, 1), (2, 5, 6, 3), (3, 7, 4, 2), (2, 49, 64, 2), (1, 9, 5, 1)])
    func attentionMatchesItsReferenceAndFiniteDifferences(samples: Int, tokens: Int, channels: Int, heads: Int) throws {
        try Shared.withEngine { engine in
            var random = TestRandom(seed: UInt64(samples * 1000 + tokens * 10 + channels))
            let rows = samples * tokens
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
            func loss(_ values: [Double]) -> Double {
                zip(Reference.attention(values, tokens: tokens, channels: channels, heads: heads).output, probe)
                    .reduce(0) { $0 + $1.0 * Double($1.1) }
            }
            // Every entry on small shapes; on the U-Net-sized one, a spread of 40 (q, k and v columns alike).
            let got = try gradient.download()
            let indices = qkvValues.count <= 1000 ? Array(qkvValues.indices) : stride(from: 7, to: qkvValues.count, by: qkvValues.count / 40).map { $0 }
            for i in indices {
                var plus = qkvDoubles, minus = qkvDoubles
                plus[i] += 1e-5; minus[i] -= 1e-5
                expectClose([got[i]], [Float((loss(plus) - loss(minus)) / 2e-5)], rtol: 2e-3, atol: 2e-5, "dqkv[\(i)]")
            }
        }
    }

    @Test func mismatchedShapesAreRefused() throws {
        try Shared.withEngine { engine in
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
