import Foundation
import StepLabEngine
@testable import StepLabGenerative

/// Host-sampled data for the method tests.
enum TestData {
    static let centres: [(Float, Float)] = (0 ..< 8).map { (k: Int) -> (Float, Float) in
        let angle = Double(k) * Double.pi / 4
        return (Float(2 * cos(angle)), Float(2 * sin(angle)))
    }

    /// Eight Gaussians (radius 2, std 0.1), row-major n x 2.
    static func eightGaussians(count: Int, seed: UInt64) -> [Float] {
        var random = HostRandom(seed: seed)
        var values: [Float] = []
        for _ in 0 ..< count {
            let c = centres[Int(random.next() % 8)]
            let u1 = Double(random.uniform(1e-7, 1)), u2 = Double(random.uniform(0, 1))
            let r = (-2 * log(u1)).squareRoot()
            values.append(c.0 + Float(0.1 * r * cos(2 * .pi * u2)))
            values.append(c.1 + Float(0.1 * r * sin(2 * .pi * u2)))
        }
        return values
    }

    /// Mean distance from each point to the nearest centre: about 0.13 for true samples.
    static func meanDistanceToCentres(_ points: [Float]) -> Double {
        stride(from: 0, to: points.count, by: 2).map { i in
            centres.map { hypot(Double(points[i] - $0.0), Double(points[i + 1] - $0.1)) }.min()!
        }.reduce(0, +) / Double(points.count / 2)
    }

    /// Standard normal noise for `rows x columns`, from the device RNG.
    static func noise(_ engine: Engine, rows: Int, columns: Int, seed: UInt64) throws -> Tensor {
        let tensor = try engine.tensor(rows: rows, columns: columns)
        try engine.normal(into: tensor, key: RandomKey(seed: seed, stream: 99))
        return tensor
    }
}
