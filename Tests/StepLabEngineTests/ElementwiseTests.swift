import StepLabTestSupport
import Testing
@testable import StepLabEngine

@Suite struct ElementwiseTests {
    static let sizes = [1, 3, 17, 31, 64, 257, 1000]

    @Test(arguments: sizes)
    func elementwiseOpsMatchTheirReferences(count: Int) throws {
        var random = TestRandom(seed: UInt64(count))
        let x = random.array(count), y = random.array(count)
        try SharedEngine.withEngine { engine in
            // Views at an offset inside a larger buffer exercise the (pointer, offset) convention.
            let storage = try engine.tensor(rows: 3, columns: count)
            let tx = try storage.rows(0, count: 1), ty = try storage.rows(1, count: 1), tz = try storage.rows(2, count: 1)
            try tx.upload(x); try ty.upload(y)

            try engine.scale(0.75, tx, into: tz)
            #expect(try tz.download() == Reference.scale(0.75, x))
            try engine.axpby(0.5, tx, -2, ty, into: tz)
            expectClose(try tz.download(), Reference.axpby(0.5, x, -2, y), rtol: 1e-6, atol: 1e-6, "axpby")
            try engine.multiply(tx, ty, into: tz)
            #expect(try tz.download() == Reference.multiply(x, y))
            try engine.clamp(tx, -0.25, 0.5, into: tz)
            #expect(try tz.download() == Reference.clamp(x, -0.25, 0.5))
            try engine.axpy(3, tx, ty)
            #expect(try ty.download() == Reference.axpy(3, x, y))
            try engine.fill(tz, 4)
            #expect(try tz.download() == [Float](repeating: 4, count: count))
            // The neighbouring rows were not touched by writes to row 2.
            #expect(try tx.download() == x)
        }
    }

    @Test(arguments: [(1, 1), (3, 17), (257, 3), (1000, 2)])
    func columnAffineMatchesTheReference(shape: (Int, Int)) throws {
        let (rows, columns) = shape
        var random = TestRandom(seed: UInt64(rows * columns))
        let x = random.array(rows * columns), shift = random.array(columns), scale = random.array(columns, 0.5, 2)
        try SharedEngine.withEngine { engine in
            let tx = try engine.tensor(x, rows: rows, columns: columns), ty = try engine.tensor(rows: rows, columns: columns)
            try engine.columnAffine(tx, shift: engine.context.buffer(shift), scale: engine.context.buffer(scale), into: ty)
            expectClose(try ty.download(), Reference.columnAffine(x, columns: columns, shift: shift, scale: scale),
                        rtol: 1e-6, atol: 1e-6, "columnAffine \(rows)x\(columns)")
        }
    }

    @Test func mismatchedShapesAreRefused() throws {
        try SharedEngine.withEngine { engine in
            let a = try engine.tensor(rows: 2, columns: 3), b = try engine.tensor(rows: 3, columns: 2)
            #expect(throws: (any Error).self) { try engine.axpy(1, a, b) }
        }
    }
}
