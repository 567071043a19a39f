import Foundation
import OpenCLKit
import StepLabEngine
import StepLabGenerative

/// DDIM sampling throughput with the reference network (eps-prediction, MLP 18-256-256-256-2 SiLU) at a large
/// batch, beside PyTorch eager running the same network and updates.
struct SamplingResult: Codable {
    var steps: Int
    var batch: Int
    /// The median round's figure, and every round's.
    var samplesPerSecond: Double
    var roundSamplesPerSecond: [Double]
    var pytorchSamplesPerSecond: Double?
    var pytorchRoundSamplesPerSecond: [Double?]?
    /// Peak bytes of StepLab's device buffers and of the bench process, and PyTorch's peak resident bytes.
    var deviceBytes: Int
    var hostPeakBytes: Int?
    var pytorchPeakBytes: Int?

    enum CodingKeys: String, CodingKey {
        case steps, batch
        case samplesPerSecond = "samples_per_s", roundSamplesPerSecond = "round_samples_per_s"
        case pytorchSamplesPerSecond = "pytorch_samples_per_s", pytorchRoundSamplesPerSecond = "pytorch_round_samples_per_s"
        case deviceBytes = "device_bytes", hostPeakBytes = "host_peak_bytes", pytorchPeakBytes = "pytorch_peak_bytes"
    }
}

enum SamplingBench {
    static let width = 256
    static let batch = 65536

    /// `rounds` alternating timings of `steps`-step DDIM (StepLab, then PyTorch when `server` is given), each
    /// over at least `seconds` after one untimed call that builds the kernels and buffers.
    static func run(engine: Engine, steps: Int, rounds: Int, seconds: Double, server: PyTorchReference.Server?) throws -> SamplingResult {
        engine.context.memory.resetPeak()
        let hostReset = HostMemory.resetPeak()
        // Untrained weights: the rate does not depend on them.
        let model = try Denoiser(engine: engine, config: DenoiserConfig(dimension: 2, width: width, prediction: .eps), seed: 0)
        let noise = try engine.tensor(rows: batch, columns: 2)
        try engine.normal(into: noise, key: RandomKey(seed: 1, stream: .samplingThroughput))
        let sampler = VPSampler(model: model)
        var ours: [Double] = [], theirs: [PyTorchReference.Measurement?] = []
        for _ in 0 ..< rounds {
            let perCall = try secondsPerCall(warmup: 1, minSeconds: seconds, minRepeats: 1) {
                _ = try sampler.sample(noise: noise, steps: steps)
                try engine.synchronize()
            }
            ours.append(Double(batch) / perCall)
            if let server { theirs.append(server.measureSampling(width: width, batch: batch, steps: steps, seconds: seconds)) }
        }
        let pytorchRates = theirs.compactMap { $0?.stepsPerSecond }
        return SamplingResult(steps: steps, batch: batch, samplesPerSecond: KernelsBench.median(ours) ?? 0, roundSamplesPerSecond: ours,
                              pytorchSamplesPerSecond: KernelsBench.median(pytorchRates),
                              pytorchRoundSamplesPerSecond: server == nil ? nil : theirs.map { $0?.stepsPerSecond },
                              deviceBytes: engine.context.memory.peakBytes, hostPeakBytes: hostReset ? HostMemory.peakBytes() : nil,
                              pytorchPeakBytes: theirs.compactMap { $0?.peakBytes }.max())
    }
}
