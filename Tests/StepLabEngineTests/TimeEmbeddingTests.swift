import Foundation
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// The sinusoidal time embedding and the network input `[z, emb(t)]`.
@Suite struct TimeEmbeddingTests {
    /// With fp64 the angle is exact to double rounding, so only the final rounding to float differs: atol
    /// 1e-6. In float the angle 1000 t f (up to 1000 rad) is good to about 3 ulp of 1000, 2e-4: atol 5e-4.
    static func tolerance(_ engine: Engine) -> Float { engine.device.supportsFP64 ? 1e-6 : 5e-4 }

    @Test(arguments: ElementwiseTests.sizes)
    func embeddingMatchesReference(count: Int) throws {
        var random = TestRandom(seed: UInt64(count))
        let t = random.array(count, 0, 1)
        try SharedEngine.withEngine { engine in
            // K times per row (K = 2: MeanFlow's (r, t)) share the count: rows of K times side by side.
            for (frequencies, times) in [(1, 1), (3, 1), (8, 1), (3, 2)] where count % times == 0 {
                let rows = count / times
                let tt = try engine.tensor(t, rows: rows, columns: times), emb = try engine.tensor(rows: rows, columns: 2 * frequencies * times)
                try engine.timeEmbedding(tt, into: emb)
                expectClose(try emb.download(), Reference.timeEmbedding(t, frequencies: frequencies),
                            rtol: 0, atol: Self.tolerance(engine), "F = \(frequencies), K = \(times)")
            }
        }
    }

    @Test(arguments: ElementwiseTests.sizes)
    func networkInputMatchesReference(count: Int) throws {
        var random = TestRandom(seed: UInt64(count) + 100)
        try SharedEngine.withEngine { engine in
            for (rows, columns) in [(count, 2), (3, count)] {
                let t = random.array(rows, 0, 1), z = random.array(rows * columns, -3, 3)
                let tt = try engine.tensor(t, rows: rows, columns: 1), zz = try engine.tensor(z, rows: rows, columns: columns)
                let input = try engine.tensor(rows: rows, columns: columns + 16)
                try engine.networkInput(zz, t: tt, into: input)
                let actual = try input.download(), expected = Reference.networkInput(z, columns: columns, t: t, frequencies: 8)
                expectClose(actual, expected, rtol: 0, atol: Self.tolerance(engine), "\(rows)x\(columns)")
                // The z part is a plain copy.
                for r in 0..<rows {
                    #expect(Array(actual[r * (columns + 16) ..< r * (columns + 16) + columns]) == Array(z[r * columns ..< (r + 1) * columns]))
                }
            }
        }
    }

    /// emb(0) = [0 ... 0, 1 ... 1]; the first frequency is 1, so the first column is sin(1000 t).
    @Test func knownValues() throws {
        let emb = Reference.timeEmbedding([0, 0.25], frequencies: 8)
        #expect(Array(emb[0 ..< 16]) == [Float](repeating: 0, count: 8) + [Float](repeating: 1, count: 8))
        #expect(emb[16] == Float(sin(250.0)) && emb[24] == Float(cos(250.0)))
        #expect(abs(emb[17] - Float(sin(250 * exp(-log(10000.0) / 8)))) < 1e-7)
    }

    @Test func badShapesAreRefused() throws {
        try SharedEngine.withEngine { engine in
            let z = try engine.tensor(rows: 4, columns: 2), t = try engine.tensor(rows: 4, columns: 1)
            #expect(throws: (any Error).self) { try engine.networkInput(z, t: t, into: engine.tensor(rows: 4, columns: 5)) }
            #expect(throws: (any Error).self) { try engine.networkInput(z, t: t, into: engine.tensor(rows: 3, columns: 18)) }
            #expect(throws: (any Error).self) { try engine.timeEmbedding(t, into: engine.tensor(rows: 4, columns: 3)) }
        }
    }
}
