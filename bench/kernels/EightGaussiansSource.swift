import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// Eight Gaussians (centres at radius 2, angles k pi/4, std 0.1) for the reference workload.
final class EightGaussiansSource: BatchSource {
    let dataset: DeviceDataset
    var dimension: Int { 2 }

    init(engine: Engine, count: Int = 1 << 20) throws {
        var random = HostRandom(seed: 42)
        var values: [Float] = []
        values.reserveCapacity(2 * count)
        for _ in 0 ..< count {
            let k = Double(random.next() % 8) * .pi / 4
            let u1 = Double(random.uniform(1e-7, 1)), u2 = Double(random.uniform(0, 1))
            let r = (-2 * log(u1)).squareRoot()
            values.append(Float(2 * cos(k) + 0.1 * r * cos(2 * .pi * u2)))
            values.append(Float(2 * sin(k) + 0.1 * r * sin(2 * .pi * u2)))
        }
        dataset = try DeviceDataset(engine: engine, values: values, count: count, dimension: 2, seed: 1)
    }

    func fill(_ batch: Tensor, step: Int, firstRow: Int) throws(OpenCLError) { try dataset.fill(batch, step: step, firstRow: firstRow) }
}
