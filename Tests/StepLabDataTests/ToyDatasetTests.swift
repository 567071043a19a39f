import Foundation
import OpenCLKit
import StepLabTestSupport
import Testing
import StepLabData
import StepLabEngine

/// The device kernels against their host twins, determinism, and the shape of each distribution. Every
/// distribution check draws 8000 points with a fixed key; its bounds are hard (Box-Muller's |z| <= 5.77) or
/// several standard errors wide.
@Suite struct ToyDatasetTests {
    static let n = 8000

    static func deviceSample(_ set: ToyDataset, count: Int, key: RandomKey) throws -> [Float] {
        try SharedEngine.withEngine { engine in
            let points = try engine.tensor(rows: count, columns: 2)
            try engine.sample(set, into: points, key: key)
            return try points.download()
        }
    }

    @Test(arguments: ToyDataset.allCases)
    func deviceMatchesHost(_ set: ToyDataset) throws {
        let key = RandomKey(seed: 0x5EED_0000_0000_0001, stream: 3, counter: 41)
        for count in [1, 1001] {
            let device = try Self.deviceSample(set, count: count, key: key)
            expectClose(device, set.sampleOnHost(count: count, key: key), rtol: 1e-5, atol: 1e-5, "\(set.rawValue), \(count) points")
        }
    }

    @Test(arguments: ToyDataset.allCases)
    func samePointsForTheSameKeyOthersForAnotherCounter(_ set: ToyDataset) throws {
        let key = RandomKey(seed: 9, stream: 1, counter: 5)
        let first = try Self.deviceSample(set, count: 257, key: key)
        #expect(try Self.deviceSample(set, count: 257, key: key) == first)
        // Point i depends on the key and i only: a shorter draw is a prefix of a longer one.
        #expect(try Self.deviceSample(set, count: 3, key: key) == Array(first.prefix(6)))
        let other = try Self.deviceSample(set, count: 257, key: key.at(counter: 6))
        let differing = (0 ..< 257).filter { i in first[(2 * i) ..< (2 * i + 2)] != other[(2 * i) ..< (2 * i + 2)] }.count
        #expect(differing > 250, "\(differing) of 257 points changed with the counter")
        #expect(set.sampleOnHost(count: 4, seed: 9) == set.sampleOnHost(count: 4, key: RandomKey(seed: 9)))
    }

    @Test func samplesIntoAViewAndRefusesOtherShapes() throws {
        let key = RandomKey(seed: 2)
        try SharedEngine.withEngine { engine in
            let storage = try engine.tensor(filled: -7, rows: 10, columns: 2)
            try engine.sample(.twoMoons, into: storage.rows(3, count: 5), key: key)
            let values = try storage.download()
            #expect(values.prefix(6).allSatisfy { $0 == -7 } && values.suffix(4).allSatisfy { $0 == -7 })
            expectClose(Array(values[6 ..< 16]), ToyDataset.twoMoons.sampleOnHost(count: 5, key: key), rtol: 1e-5, atol: 1e-5)
            #expect(throws: OpenCLError.self) { try engine.sample(.spirals, into: engine.tensor(rows: 4, columns: 3), key: key) }
        }
    }

    @Test func rawValuesNameTheSets() {
        #expect(ToyDataset.allCases.map(\.rawValue) == ["eight-gaussians", "two-moons", "checkerboard", "swiss-roll", "spirals"])
        #expect(ToyDataset(rawValue: "swiss-roll") == .swissRoll)
    }

    /// Every point within 0.6 (6 std) of a centre; 8000 points put 1000 +- 30 (1 sigma) on each mode, so
    /// +-20% is over 6 sigma; the offsets from the centres have std 0.1 (standard error 0.0008).
    @Test func eightGaussiansHitEveryModeEvenly() throws {
        let mixture = try #require(ToyDataset.eightGaussians.gaussianMixture)
        #expect(mixture.std == 0.1 && mixture.means.count == 8)
        for (k, mean) in mixture.means.enumerated() {
            let angle = Double(k) * Double.pi / 4
            #expect(abs(Double(mean[0]) - 2 * cos(angle)) < 1e-6 && abs(Double(mean[1]) - 2 * sin(angle)) < 1e-6)
        }
        let values = try Self.deviceSample(.eightGaussians, count: Self.n, key: RandomKey(seed: 11))
        var hits = [Int](repeating: 0, count: 8)
        var offsets: [Float] = []
        for i in 0 ..< Self.n {
            let p = SIMD2(values[2 * i], values[2 * i + 1])
            let distances = mixture.means.map { ((p - SIMD2($0[0], $0[1])) * (p - SIMD2($0[0], $0[1]))).sum().squareRoot() }
            let nearest = distances.indices.min { distances[$0] < distances[$1] }!
            #expect(distances[nearest] < 0.6, "point \(i) at \(p) is \(distances[nearest]) from the nearest centre")
            hits[nearest] += 1
            offsets += [p.x - mixture.means[nearest][0], p.y - mixture.means[nearest][1]]
        }
        #expect(hits.allSatisfy { abs($0 - Self.n / 8) <= Self.n / 40 }, "mode counts \(hits)")
        let std = columnMoments(offsets).std
        #expect(abs(std.x - 0.1) < 0.005 && abs(std.y - 0.1) < 0.005, "offset std \(std)")
    }

    /// Only the 8 squares with floor(x1) + floor(x2) even, strictly inside, each holding 1/8 of the points.
    @Test func checkerboardFillsOnlyTheBlackSquares() throws {
        let values = try Self.deviceSample(.checkerboard, count: Self.n, key: RandomKey(seed: 12))
        var hits: [SIMD2<Int>: Int] = [:]
        for i in 0 ..< Self.n {
            let x = values[2 * i], y = values[2 * i + 1]
            #expect(x > -2 && x < 2 && y > -2 && y < 2 && x != x.rounded(.down) && y != y.rounded(.down), "point \(i) at (\(x), \(y))")
            let cell = SIMD2(Int(x.rounded(.down)), Int(y.rounded(.down)))
            #expect((cell.x + cell.y) & 1 == 0, "point \(i) at (\(x), \(y)) is on a white square")
            hits[cell, default: 0] += 1
        }
        #expect(hits.count == 8 && hits.values.allSatisfy { abs($0 - Self.n / 8) <= Self.n / 40 }, "\(hits)")
    }

    /// Hard bounds documented on each case, and the spread the documentation states.
    @Test func moonsSpiralsAndSwissRollStayInTheirDocumentedRanges() throws {
        let moons = try Self.deviceSample(.twoMoons, count: Self.n, key: RandomKey(seed: 13))
        #expect(stride(from: 0, to: moons.count, by: 2).allSatisfy { abs(moons[$0]) <= 2.7 && abs(moons[$0 + 1]) <= 1.6 })
        let m = columnMoments(moons)
        #expect(abs(m.std.x - 1.30) < 0.04 && abs(m.std.y - 0.75) < 0.03 && abs(m.mean.x) < 0.07 && abs(m.mean.y) < 0.04, "\(m)")

        let roll = try Self.deviceSample(.swissRoll, count: Self.n, key: RandomKey(seed: 14))
        #expect(roll.allSatisfy { abs($0) <= 4 })
        // Mean radius E[t] / 5 = 1.885 before the noise, which adds about E|z|^2 / (2 r) ~ 0.01.
        let radius = stride(from: 0, to: roll.count, by: 2).reduce(0.0) { $0 + Double(hypot(roll[$1], roll[$1 + 1])) } / Double(Self.n)
        #expect(abs(radius - 1.9) < 0.05, "mean radius \(radius)")

        let spirals = try Self.deviceSample(.spirals, count: Self.n, key: RandomKey(seed: 15))
        #expect(spirals.allSatisfy { abs($0) <= 3.75 })
        // The two arms are mirror images through the origin, so the mean is 0.
        let s = columnMoments(spirals)
        #expect(abs(s.mean.x) < 0.08 && abs(s.mean.y) < 0.08, "\(s)")
    }
}
