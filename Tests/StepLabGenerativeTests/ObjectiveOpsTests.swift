import Foundation
import OpenCLKit
import StepLabEngine
import StepLabTestSupport
import Testing
@testable import StepLabGenerative

/// The objectives' and samplers' own device ops against their float64 twins: MCM's times, iCT's pairs and the
/// early-exit sampler's bookkeeping.
@Suite struct ObjectiveOpsTests {
    @Test(arguments: [(1, 1, 1), (4, 3, 7), (2, 64, 33)])
    func multistepTimesMatchTheTwin(segments: Int, stepsPerSegment: Int, rows: Int) throws {
        try SharedEngine.withEngine { engine in
            let key = RandomKey(seed: 3, stream: 21, counter: 5)
            let t = try engine.tensor(rows: rows, columns: 1), s = try engine.tensor(rows: rows, columns: 1)
            let start = try engine.tensor(rows: rows, columns: 1)
            try engine.multistepTimes(segments: segments, stepsPerSegment: stepsPerSegment, key: key, t: t, s: s, segmentStart: start)
            let words = Reference.randomBits(count: 4 * rows, key: key)
            let twin = (0 ..< rows).map { Reference.multistepTimes((words[4 * $0], words[4 * $0 + 1]), segments: segments,
                                                                   stepsPerSegment: stepsPerSegment) }
            expectClose(try t.download(), twin.map { Float($0.t) }, rtol: 1e-6, atol: 1e-7, "t")
            expectClose(try s.download(), twin.map { Float($0.s) }, rtol: 1e-6, atol: 1e-6, "s")
            let starts = try start.download()
            #expect(starts == twin.map { Float($0.start) })
            // t lies in its segment, one step above s, never below the segment's start.
            #expect(twin.allSatisfy { $0.t > $0.start && $0.s >= $0.start - 1e-12 && $0.t <= $0.start + 1 / Double(segments) + 1e-12 })
        }
        try SharedEngine.withEngine { engine in
            let column = try engine.tensor(rows: 3, columns: 1)
            #expect(throws: OpenCLError.self) {
                try engine.multistepTimes(segments: 0, stepsPerSegment: 2, key: RandomKey(seed: 1), t: column, s: column, segmentStart: column)
            }
        }
    }

    @Test(arguments: [2, 11, 1281])
    func ictPairsMatchTheTwin(levels: Int) throws {
        try SharedEngine.withEngine { engine in
            let config = ConsistencyConfig(totalIterations: 100)
            let grid = config.edm.karrasGrid(count: levels), cdf = config.pairCDF(grid: grid), rows = 37
            let key = RandomKey(seed: 8, stream: 4, counter: 2)
            let hi = try engine.tensor(rows: rows, columns: 1), lo = try engine.tensor(rows: rows, columns: 1)
            let weight = try engine.tensor(rows: rows, columns: 1)
            try engine.ictPairs(cdf: engine.context.buffer(cdf), grid: engine.context.buffer(grid), key: key, sigmaHi: hi, sigmaLo: lo,
                                weight: weight)
            let words = Reference.randomBits(count: 4 * rows, key: key)
            let twin = (0 ..< rows).map { Reference.ictPair(words[4 * $0], cdf: cdf, grid: grid) }
            #expect(try hi.download() == twin.map { Float($0.hi) })
            #expect(try lo.download() == twin.map { Float($0.lo) })
            expectClose(try weight.download(), twin.map { Float($0.weight) }, rtol: 1e-5, atol: 0, "weight")
            #expect(twin.allSatisfy { $0.lo < $0.hi })
            #expect(throws: OpenCLError.self) {
                try engine.ictPairs(cdf: engine.context.buffer(cdf + [1]), grid: engine.context.buffer(grid), key: key, sigmaHi: hi,
                                    sigmaLo: lo, weight: weight)
            }
        }
    }

    /// Four steps of the bookkeeping on rows that settle at different steps (one never moves, one keeps moving), then
    /// the final step, which marks every row done.
    @Test func earlyExitUpdatesMatchTheTwin() throws {
        try SharedEngine.withEngine { engine in
            let (rows, d) = (5, 3)
            var random = TestRandom(seed: 12)
            let xhat = try engine.tensor(rows: rows, columns: d)
            let previous = try engine.tensor(filled: 0, rows: rows, columns: d), result = try engine.tensor(filled: 0, rows: rows, columns: d)
            let done = try engine.tensor(filled: 0, rows: rows, columns: 1), evals = try engine.tensor(filled: 0, rows: rows, columns: 1)
            var p = [Double](repeating: 0, count: rows * d), r = p, dn = [Double](repeating: 0, count: rows), ev = dn
            var x = random.array(rows * d)
            for step in 0 ..< 5 {
                // Row 0 stays put, row 1 jumps every step, the others move less each step.
                x = x.enumerated().map { i, v in i / d == 0 ? v : i / d == 1 ? v + 1 : v + random.uniform(-1, 1) * pow(0.001, Float(step)) }
                try xhat.upload(x)
                let final = step == 4
                try engine.earlyExitUpdate(xhat: xhat, previous: previous, result: result, done: done, evaluations: evals,
                                           threshold: 0.01, finalStep: final)
                Reference.earlyExitUpdate(xhat: x.map(Double.init), previous: &p, result: &r, done: &dn, evaluations: &ev, dimension: d,
                                          threshold: 0.01, finalStep: final)
                #expect(try done.download() == dn.map(Float.init), "done after step \(step)")
                #expect(try evals.download() == ev.map(Float.init), "evaluations after step \(step)")
                #expect(try result.download() == r.map(Float.init), "results after step \(step)")
            }
            #expect(dn.allSatisfy { $0 == 1 } && ev[1] == 5 && ev[0] == 2, "row 0 stops at its second look, row 1 only at the end")
        }
    }
}
