import StepLabTestSupport
import Testing
@testable import StepLabEngine

@Suite struct OptimizerTests {
    /// 1930 parameters: more than a long launch's threshold and no multiple of 64, so the step runs as a body and a
    /// tail (`Engine.enqueue`).
    @Test(arguments: [nil, Float(0.5)])
    func adamwStepsMatchTheReferenceFormula(maxNorm: Float?) throws {
        try SharedEngine.withEngine { engine in
            let store = try ParameterStore(engine: engine, shapes: [("a", 3, 17), ("b", 1, 31), ("c", 257, 1), ("d", 37, 43)])
            var random = TestRandom(seed: 5)
            var p = random.array(store.count), m = [Float](repeating: 0, count: store.count), v = m
            try store.values.upload(p)
            let h = AdamW.Hyperparameters(beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.1, maxGradientNorm: maxNorm)
            let adam = try AdamW(parameters: store, engine: engine, hyperparameters: h)
            for step in 1 ... 3 {
                let g = random.array(store.count)
                try store.gradients.upload(g)
                try adam.update(lr: 0.01)
                (p, m, v) = Reference.adamw(parameters: p, gradients: g, m: m, v: v, step: step, lr: 0.01, h)
                let norm = g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                #expect(abs(Double(try adam.gradientNorm()) - norm) < 1e-4 * norm)
            }
            expectClose(try store.values.download(), p, rtol: 1e-5, atol: 1e-6, "parameters")
            expectClose(try adam.firstMoment.download(), m, rtol: 1e-5, atol: 1e-7, "first moment")
            expectClose(try adam.secondMoment.download(), v, rtol: 1e-5, atol: 1e-9, "second moment")
        }
    }

    @Test func emaFollowsTheRecurrence() throws {
        try SharedEngine.withEngine { engine in
            // 1337 weights: a long launch split into a body and a tail.
            let store = try ParameterStore(engine: engine, shapes: [("w", 1, 1337)])
            var random = TestRandom(seed: 8)
            let start = random.array(1337)
            try store.values.upload(start)
            let ema = try EMA(parameters: store, engine: engine, decay: 0.9)
            #expect(try ema.values.download() == start)
            let next = random.array(1337)
            try store.values.upload(next)
            // The first update warms up with d = min(0.9, 1/10) = 0.1; from the 80th on the decay is 0.9.
            #expect(ema.effectiveDecay == 0.1)
            try ema.update()
            expectClose(try ema.values.download(), zip(start, next).map { 0.1 * $0 + 0.9 * $1 }, rtol: 1e-6, atol: 1e-7, "ema")
            for _ in 1 ..< 80 { try ema.update() }
            #expect(ema.effectiveDecay == 0.9)
        }
    }
}
