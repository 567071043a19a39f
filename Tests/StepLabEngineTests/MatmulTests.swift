import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

@Suite struct MatmulTests {
    /// Shapes off every tile size: 1, primes, and sizes just past powers of two.
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (3, 17, 31), (17, 3, 1), (31, 64, 17), (64, 31, 3), (257, 33, 65), (1000, 3, 17), (5, 257, 64),
        (17, 33, 257), (3, 5, 1031), (48, 4, 300), (33, 2, 70),
    ]
    static let layouts: [(Bool, Bool)] = [(false, false), (false, true), (true, false), (true, true)]
    static let variants: [MatmulTuning] = [
        // A 1 KB band budget gives bands of a few row blocks, so partial last bands come up on these shapes.
        MatmulTuning(variant: .cpu), MatmulTuning(variant: .cpu, mr: 3, splitKChunk: 16, bandKilobytes: 1),
        MatmulTuning(variant: .tiled), MatmulTuning(variant: .tiled, tm: 32, tn: 16, tk: 8, wm: 2, wn: 4),
    ]

    static func operands(_ m: Int, _ n: Int, _ k: Int, _ ta: Bool, _ tb: Bool, seed: UInt64)
        -> (a: [Float], ar: Int, ac: Int, b: [Float], br: Int, bc: Int) {
        var random = TestRandom(seed: seed)
        let (ar, ac) = ta ? (k, m) : (m, k)
        let (br, bc) = tb ? (n, k) : (k, n)
        return (random.array(ar * ac), ar, ac, random.array(br * bc), br, bc)
    }

    // float32 sums of up to 1000 products of values in [-1, 1]: relative error grows like sqrt(K) * eps.
    static let rtol: Float = 1e-4, atol: Float = 1e-4

    @Test(arguments: variants)
    func everyLayoutMatchesTheReference(tuning: MatmulTuning) throws {
        try SharedEngine.withEngine(tuning: tuning) { engine in
            for (m, n, k) in Self.shapes {
                for (ta, tb) in Self.layouts {
                    let o = Self.operands(m, n, k, ta, tb, seed: UInt64(m * 1_000_000 + n * 1000 + k))
                    let a = try engine.tensor(o.a, rows: o.ar, columns: o.ac)
                    let b = try engine.tensor(o.b, rows: o.br, columns: o.bc)
                    let c = try engine.tensor(filled: .nan, rows: m, columns: n)
                    try engine.matmul(a, transposeA: ta, b, transposeB: tb, into: c)
                    let expected = Reference.matmul(o.a, rows: o.ar, columns: o.ac, transposeA: ta,
                                                    o.b, rows: o.br, columns: o.bc, transposeB: tb).c
                    expectClose(try c.download(), expected, rtol: Self.rtol, atol: Self.atol,
                                "\(tuning.variant) \(m)x\(n)x\(k) ta=\(ta) tb=\(tb)")
                }
            }
        }
    }

    @Test(arguments: [variants[0], variants[1], variants[2]])
    func fusedEpiloguesMatchTheReference(tuning: MatmulTuning) throws {
        try SharedEngine.withEngine(tuning: tuning) { engine in
            // (5, 7, 131) takes the split-K path with the 16-long chunks of variants[1].
            for (m, n, k) in [(3, 17, 31), (257, 33, 65), (64, 64, 64), (1, 40, 2), (5, 7, 131)] {
                for activation in Activation.allCases {
                    var random = TestRandom(seed: UInt64(m + n + k) &* 31 &+ UInt64(activation.rawValue))
                    let av = random.array(m * k), bv = random.array(k * n, -2, 2), biasv = random.array(n)
                    let gatev = random.array(m * n, -3, 3)
                    let a = try engine.tensor(av, rows: m, columns: k)
                    let b = try engine.tensor(bv, rows: k, columns: n)
                    let bias = try engine.tensor(biasv, rows: 1, columns: n)
                    let c = try engine.tensor(rows: m, columns: n), z = try engine.tensor(rows: m, columns: n)
                    try engine.matmul(a, b, into: c, epilogue: .biasActivation(bias: bias, activation: activation, preActivation: z))
                    let forward = Reference.matmul(av, rows: m, columns: k, transposeA: false, bv, rows: k, columns: n,
                                                   transposeB: false, bias: biasv, activation: activation)
                    expectClose(try z.download(), forward.pre, rtol: Self.rtol, atol: Self.atol, "pre \(activation)")
                    expectClose(try c.download(), forward.c, rtol: Self.rtol, atol: Self.atol, "act \(activation)")

                    let gate = try engine.tensor(gatev, rows: m, columns: n)
                    try engine.matmul(a, b, into: c, epilogue: .activationGradient(preActivation: gate, activation: activation))
                    let backward = Reference.matmul(av, rows: m, columns: k, transposeA: false, bv, rows: k, columns: n,
                                                    transposeB: false, gate: gatev, activation: activation)
                    expectClose(try c.download(), backward.c, rtol: Self.rtol, atol: Self.atol, "dact \(activation)")
                }
            }
        }
    }

    /// The cpu variant's narrow path (A transposed, at most 4 columns) with both epilogues, rows off multiples of 16.
    @Test func narrowTransposedProductsWithEpiloguesMatchTheReference() throws {
        try SharedEngine.withEngine(tuning: MatmulTuning(variant: .cpu)) { engine in
            for (m, n, k) in [(37, 2, 19), (16, 4, 3), (5, 1, 40)] {
                var random = TestRandom(seed: UInt64(m * 100 + n * 10 + k))
                let av = random.array(k * m), bv = random.array(k * n), biasv = random.array(n), gatev = random.array(m * n, -3, 3)
                let a = try engine.tensor(av, rows: k, columns: m), b = try engine.tensor(bv, rows: k, columns: n)
                let bias = try engine.tensor(biasv, rows: 1, columns: n), gate = try engine.tensor(gatev, rows: m, columns: n)
                let c = try engine.tensor(filled: .nan, rows: m, columns: n), z = try engine.tensor(filled: .nan, rows: m, columns: n)
                try engine.matmul(a, transposeA: true, b, into: c, epilogue: .biasActivation(bias: bias, activation: .silu, preActivation: z))
                let forward = Reference.matmul(av, rows: k, columns: m, transposeA: true, bv, rows: k, columns: n, transposeB: false,
                                               bias: biasv, activation: .silu)
                expectClose(try z.download(), forward.pre, rtol: Self.rtol, atol: Self.atol, "narrow pre \(m)x\(n)x\(k)")
                expectClose(try c.download(), forward.c, rtol: Self.rtol, atol: Self.atol, "narrow silu \(m)x\(n)x\(k)")
                try engine.matmul(a, transposeA: true, b, into: c, epilogue: .activationGradient(preActivation: gate, activation: .silu))
                let backward = Reference.matmul(av, rows: k, columns: m, transposeA: true, bv, rows: k, columns: n, transposeB: false,
                                                gate: gatev, activation: .silu)
                expectClose(try c.download(), backward.c, rtol: Self.rtol, atol: Self.atol, "narrow silu' \(m)x\(n)x\(k)")
            }
        }
    }

    @Test func mismatchedShapesAreRefused() throws {
        try SharedEngine.withEngine { engine in
            let a = try engine.tensor(rows: 3, columns: 4), b = try engine.tensor(rows: 5, columns: 2)
            let c = try engine.tensor(rows: 3, columns: 2)
            #expect(throws: OpenCLError.self) { try engine.matmul(a, b, into: c) }
        }
    }
}

@Suite struct ActivationTests {
    @Test(arguments: [1, 3, 17, 31, 64, 257, 1000])
    func forwardAndBackwardMatchTheReference(count: Int) throws {
        var random = TestRandom(seed: UInt64(count) + 7)
        let z = random.array(count, -4, 4), dy = random.array(count)
        try SharedEngine.withEngine { engine in
            let tz = try engine.tensor(z, rows: 1, columns: count), tdy = try engine.tensor(dy, rows: 1, columns: count)
            let out = try engine.tensor(rows: 1, columns: count)
            for activation in Activation.allCases {
                try engine.activate(tz, activation, into: out)
                expectClose(try out.download(), Reference.activate(z, activation), rtol: 2e-6, atol: 2e-6, "\(activation)")
                try engine.activationBackward(preActivation: tz, gradient: tdy, activation, into: out)
                expectClose(try out.download(), Reference.activationBackward(z, dy, activation), rtol: 2e-6, atol: 2e-6,
                            "\(activation)'")
            }
        }
    }

    @Test func derivativesMatchCentralDifferences() {
        for activation in Activation.allCases {
            for z in stride(from: -3.0, through: 3.0, by: 0.37) {
                let h = 1e-6
                let numeric = (activation.forward(z + h) - activation.forward(z - h)) / (2 * h)
                #expect(abs(numeric - activation.derivative(z)) < 1e-6, "\(activation) at \(z)")
            }
        }
    }
}
