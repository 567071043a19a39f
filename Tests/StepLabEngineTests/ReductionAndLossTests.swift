import StepLabTestSupport
import Testing
@testable import StepLabEngine

@Suite struct ReductionTests {
    static let shapes: [(Int, Int)] = [(1, 1), (3, 17), (17, 3), (31, 64), (257, 31), (1000, 3), (1000, 257), (64, 1)]

    @Test func rowColumnAndFlatSumsMatchTheReference() throws {
        try SharedEngine.withEngine { engine in
            for (rows, columns) in Self.shapes {
                var random = TestRandom(seed: UInt64(rows * 7919 + columns))
                let x = random.array(rows * columns)
                let tx = try engine.tensor(x, rows: rows, columns: columns)
                let cols = try engine.tensor(rows: 1, columns: columns), rowsOut = try engine.tensor(rows: rows, columns: 1)
                let scalar = try engine.tensor(rows: 1, columns: 1)
                // float32 sums of up to 1000 terms in [-1, 1]: absolute error stays far under 1e-4.
                try engine.columnSums(tx, alpha: 0.5, into: cols)
                expectClose(try cols.download(), Reference.columnSums(x, rows: rows, columns: columns, alpha: 0.5),
                            rtol: 1e-5, atol: 1e-4, "columnSums \(rows)x\(columns)")
                try engine.rowSums(tx, alpha: 2, into: rowsOut)
                expectClose(try rowsOut.download(), Reference.rowSums(x, rows: rows, columns: columns, alpha: 2),
                            rtol: 1e-5, atol: 1e-4, "rowSums \(rows)x\(columns)")
                for squared in [false, true] {
                    try engine.sum(tx, squared: squared, into: scalar)
                    expectClose(try scalar.download(), [Reference.sum(x, squared: squared)], rtol: 1e-5, atol: 1e-3,
                                "sum squared=\(squared) \(rows)x\(columns)")
                }
            }
        }
    }

    @Test func reductionsAreBitwiseDeterministic() throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: 99)
            let x = try engine.tensor(random.array(4099 * 67), rows: 4099, columns: 67)
            let a = try engine.tensor(rows: 1, columns: 67), b = try engine.tensor(rows: 1, columns: 67)
            let s1 = try engine.tensor(rows: 1, columns: 1), s2 = try engine.tensor(rows: 1, columns: 1)
            try engine.columnSums(x, into: a)
            try engine.sum(x, squared: true, into: s1)
            for _ in 0 ..< 3 {
                try engine.columnSums(x, into: b)
                try engine.sum(x, squared: true, into: s2)
                #expect(try a.download() == b.download())
                #expect(try s1.download() == s2.download())
            }
        }
    }
}

@Suite struct LossTests {
    @Test(arguments: [1, 3, 17, 31, 64, 257, 1000])
    func lossesAndGradientsMatchTheReference(rows: Int) throws {
        try SharedEngine.withEngine { engine in
            for columns in [1, 2, 5] {
                var random = TestRandom(seed: UInt64(rows * 10 + columns))
                let p = random.array(rows * columns, -2, 2), y = random.array(rows * columns, -2, 2)
                let w = random.array(rows, 0, 3)
                let tp = try engine.tensor(p, rows: rows, columns: columns), ty = try engine.tensor(y, rows: rows, columns: columns)
                let tw = try engine.tensor(w, rows: rows, columns: 1)
                let loss = try engine.tensor(rows: rows, columns: 1), grad = try engine.tensor(rows: rows, columns: columns)
                for kind in [LossKind.squaredError, .pseudoHuber(c: 0.03)] {
                    for weights in [nil, tw] {
                        try engine.loss(kind, prediction: tp, target: ty, weights: weights, perSample: loss, gradient: grad)
                        let expected = Reference.loss(kind, prediction: p, target: y, weights: weights == nil ? nil : w,
                                                      rows: rows, columns: columns)
                        expectClose(try loss.download(), expected.perSample, rtol: 1e-5, atol: 1e-6, "\(kind) loss")
                        expectClose(try grad.download(), expected.gradient, rtol: 1e-5, atol: 1e-8, "\(kind) gradient")
                    }
                }
            }
        }
    }

    @Test func pseudoHuberIsQuadraticNearZeroAndLinearFarAway() {
        let c: Float = 0.5
        let near = Reference.loss(.pseudoHuber(c: c), prediction: [0.01], target: [0], weights: nil, rows: 1, columns: 1)
        #expect(abs(near.perSample[0] - 0.01 * 0.01 / (2 * c)) < 1e-6)
        let far = Reference.loss(.pseudoHuber(c: c), prediction: [100], target: [0], weights: nil, rows: 1, columns: 1)
        #expect(abs(far.perSample[0] - (100 - c)) < 0.01)
    }
}
