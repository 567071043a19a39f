import ArgumentParser
import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// One timed matrix product.
struct SgemmResult: Codable {
    var m: Int, n: Int, k: Int
    var transpose: String
    var label: String
    var gflops: Double
    var openblasGflops: Double?
}

/// `bench kernels`: matmul throughput on the chosen device (and OpenBLAS on the host when present).
struct KernelsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Time sgemm (square sizes and the MLP's shapes), the U-Net's convolutions and the reference training steps."
    )

    @Option(help: "Device: index, gpu|cpu|accelerator, or a name substring (default: $STEPLAB_DEVICE, else first GPU, else device 0).")
    var device: String?

    @Option(help: "Also write the results as JSON to this file.")
    var json: String?

    @Option(help: "Seconds to time each measurement (after warm-up).")
    var seconds: Double = 0.5

    @Option(help: "Also run the same training workloads in another framework: pytorch.")
    var compare: String?

    @Option(help: "Rounds per training workload; each round times StepLab and then (with --compare) PyTorch eager and torch.compile, and medians are reported, so a slow spell of a shared machine does not land on one side only.")
    var rounds: Int = 3

    @Flag(help: "The short version `bench` runs before the study: the MLP-shaped products, one round of the reference step and of the study's own step (resmlp 128x3, batch 256), and the resmlp's JVP; no convolutions, U-Net or sampling.")
    var short = false

    /// What the timed product fuses after the multiply-add (OpenBLAS always runs the bare product).
    enum Fused: String { case none = "", biasSiLU = " +b,SiLU", siluGradient = " *SiLU'" }

    static let shapes: [(m: Int, n: Int, k: Int, ta: Bool, tb: Bool, fused: Fused, label: String)] = [
        (256, 256, 256, false, false, .none, "square"),
        (512, 512, 512, false, false, .none, "square"),
        (1024, 1024, 1024, false, false, .none, "square"),
        (2048, 2048, 2048, false, false, .none, "square"),
        (4096, 256, 256, false, false, .none, "MLP forward X.W"),
        (4096, 256, 256, false, false, .biasSiLU, "MLP forward"),
        (4096, 256, 256, false, true, .none, "MLP backward dY.W^T"),
        (4096, 256, 256, false, true, .siluGradient, "MLP backward"),
        (256, 256, 4096, true, false, .none, "MLP weight grad X^T.dY"),
        (1024, 1024, 1024, false, true, .none, "wide MLP dY.W^T"),
        (1024, 1024, 1024, true, false, .none, "wide MLP weight grad"),
    ]

    func run() throws {
        do {
            let report = try measure(engine: Engine(device: device))
            if let json {
                try JSONOutput.write(report, to: json)
                print("wrote \(json)")
            }
        } catch let error as OpenCLError {
            throw ValidationError(error.description)
        }
    }

    /// Runs and prints every measurement on `engine`.
    func measure(engine: Engine) throws -> KernelsReport {
        print("device: \(engine.device.name) (\(engine.device.kind.rawValue)), matmul \(engine.matmulTuning.variant)")
        let blas = OpenBLAS.load()
        if let blas { print("OpenBLAS: \(blas.path), \(blas.core) kernels") }
        else { print("OpenBLAS not found (apt-get install libopenblas0): no host comparison") }
        let results = try measureSgemm(engine, blas: blas)
        let convolutions = short ? [] : try ConvolutionBench.run(engine: engine, blas: blas, seconds: seconds)
        let rounds = short ? 1 : self.rounds
        print("\ntraining step (bench/kernels/TrainStepBench.swift's reference workload: eps-diffusion on eight Gaussians, AdamW; "
              + "mlp 18-W-W-W-2 SiLU, resmlp with 3 FiLM blocks of width W; unet: the same on 28x28 images, channels 32/64/64)")
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        if let compare, compare != "pytorch" { throw ValidationError("--compare supports: pytorch") }
        let withTorch = compare == "pytorch" && PyTorchReference.available
        if compare == "pytorch" && !withTorch { print(PyTorchReference.installHint) }
        let threads = engine.device.kind == .cpu ? engine.device.computeUnits : ProcessInfo.processInfo.activeProcessorCount
        let servers = withTorch ? [false, true].map { PyTorchReference.Server(compile: $0, threads: threads) } : [nil, nil]
        print("  (median of \(rounds) rounds" + (withTorch ? ", StepLab, PyTorch eager and torch.compile alternating; ratios are of medians, "
            + "[min-max] of the rounds' ratios)" : ")"))
        let workloads: [(NetworkArchitecture, Int, Int)] = short ? [(.mlp, 256, 4096), (.resmlp, 128, 256)]
            : [(.mlp, 256, 4096), (.mlp, 1024, 1024), (.mlp, 64, 256), (.resmlp, 256, 4096), (.resmlp, 64, 256), (.unet, 0, 64)]
        let steps = try workloads.map { architecture, width, batch in
            try measureTrainStep(engine, architecture: architecture, width: width, batch: batch, rounds: rounds, withTorch: withTorch, servers: servers)
        }
        let sampling = try measureSampling(engine, rounds: rounds, withTorch: withTorch, server: servers[0])
        print("\njvp: the output and its tangent along (dx, dt) in one pass (Network.jvp) against a forward pass, at the study's sizes")
        let jvp = try JVPBench.run(engine: engine, seconds: seconds, short: short)
        JVPBench.lines(jvp).forEach { print($0) }
        return KernelsReport(device: engine.device, sgemm: results, convolutions: convolutions, trainStep: steps[0], trainSteps: steps,
                             sampling: sampling, jvp: jvp)
    }

    /// The sgemm shapes (the MLP's alone when short), each against OpenBLAS where it is installed.
    func measureSgemm(_ engine: Engine, blas: OpenBLAS?) throws -> [SgemmResult] {
        var results: [SgemmResult] = []
        print("sgemm                          M     N     K   op   GFLOP/s" + (blas != nil ? "  OpenBLAS  ratio" : ""))
        if blas != nil { print("  (rows marked +b,SiLU or *SiLU' time the fused epilogue; OpenBLAS runs the bare product)") }
        for shape in short ? Self.shapes.filter({ $0.label.hasPrefix("MLP") }) : Self.shapes {
            let result = try timeSgemm(engine, shape, blas: blas)
            results.append(result)
            var line = "\(result.label.padding(toLength: 26, withPad: " ", startingAt: 0)) "
                + String(format: "%5d %5d %5d   %@ %8.1f", shape.m, shape.n, shape.k, result.transpose, result.gflops)
            if let reference = result.openblasGflops {
                line += String(format: "  %8.1f  %5.2f", reference, result.gflops / reference)
            }
            print(line)
        }
        return results
    }

    /// One training-step workload over `rounds`, alternating with PyTorch eager and torch.compile when `servers` hold them.
    func measureTrainStep(_ engine: Engine, architecture: NetworkArchitecture, width: Int, batch: Int, rounds: Int,
                          withTorch: Bool, servers: [PyTorchReference.Server?]) throws -> TrainStepResult {
        let source = try TrainStepBench.source(architecture, engine: engine)
        var ours: [TrainStepResult] = []
        var theirs: [[PyTorchReference.Measurement?]] = [[], []]
        for _ in 0 ..< rounds {
            ours.append(try TrainStepBench.run(engine: engine, architecture: architecture, width: width, batch: batch,
                                               seconds: 2 * seconds, source: source))
            for (mode, server) in servers.enumerated() {
                theirs[mode].append(server?.measure(architecture: architecture.rawValue, width: width, batch: batch, seconds: 2 * seconds))
            }
        }
        var result = ours.sorted { $0.stepsPerSecond < $1.stepsPerSecond }[ours.count / 2]
        result.roundStepsPerSecond = ours.map(\.stepsPerSecond)
        result.deviceBytes = ours.map(\.deviceBytes).max() ?? 0
        result.hostPeakBytes = ours.compactMap(\.hostPeakBytes).max()
        let network = architecture == .unet ? "unet  32/64/64" : architecture.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
            + String(format: " width %4d", width)
        var line = String(format: "  %@ batch %4d: StepLab %7.1f steps/s (%6.2f ms/step)", network, batch,
                          result.stepsPerSecond, result.milliseconds)
        line += String(format: ", device %@, host peak %@", HostMemory.megabytes(result.deviceBytes), HostMemory.megabytes(result.hostPeakBytes))
        if withTorch {
            let rates = theirs.map { $0.map { $0?.stepsPerSecond } }
            result.pytorchRoundStepsPerSecond = rates[0]
            result.pytorchCompileRoundStepsPerSecond = rates[1]
            result.pytorchStepsPerSecond = Self.median(rates[0].compactMap { $0 })
            result.pytorchCompileStepsPerSecond = Self.median(rates[1].compactMap { $0 })
            result.pytorchPeakBytes = theirs[0].compactMap { $0?.peakBytes }.max()
            for (label, value, perRound) in [("PyTorch", result.pytorchStepsPerSecond, rates[0]),
                                             ("torch.compile", result.pytorchCompileStepsPerSecond, rates[1])] {
                guard let value else { line += ", \(label) failed"; continue }
                line += String(format: ", %@ %.1f (%@)", label, value,
                               Self.ratios(result.stepsPerSecond, value, rounds: result.roundStepsPerSecond, perRound))
            }
            if let peak = result.pytorchPeakBytes { line += ", PyTorch peak " + HostMemory.megabytes(peak) }
        }
        print(line)
        return result
    }

    /// DDIM's throughput at 1 and 8 steps (none when short), against PyTorch when `server` is there.
    func measureSampling(_ engine: Engine, rounds: Int, withTorch: Bool, server: PyTorchReference.Server?) throws -> [SamplingResult] {
        var sampling: [SamplingResult] = []
        if !short { print("\nsampling: DDIM with the reference network (eps-prediction, untrained) at batch \(SamplingBench.batch)") }
        for stepCount in short ? [] : [1, 8] {
            let result = try SamplingBench.run(engine: engine, steps: stepCount, rounds: rounds, seconds: seconds, server: server)
            var line = String(format: "  %d step%@: StepLab %8.0f samples/s, device %@, host peak %@", stepCount, stepCount == 1 ? " " : "s",
                              result.samplesPerSecond, HostMemory.megabytes(result.deviceBytes), HostMemory.megabytes(result.hostPeakBytes))
            if withTorch {
                if let theirs = result.pytorchSamplesPerSecond {
                    let ratios = Self.ratios(result.samplesPerSecond, theirs, rounds: result.roundSamplesPerSecond,
                                             result.pytorchRoundSamplesPerSecond ?? [])
                    line += String(format: ", PyTorch %8.0f (%@), PyTorch peak %@", theirs, ratios, HostMemory.megabytes(result.pytorchPeakBytes))
                } else {
                    line += ", PyTorch failed"
                }
            }
            sampling.append(result)
            print(line)
        }
        return sampling
    }

    /// "x1.23 [0.98-1.40]": the ratio of the medians, then the range of the rounds' own ratios (rounds where the
    /// other side failed left out).
    static func ratios(_ ours: Double, _ theirs: Double, rounds ourRounds: [Double], _ theirRounds: [Double?]) -> String {
        let perRound = zip(ourRounds, theirRounds).compactMap { ours, theirs in theirs.map { ours / $0 } }
        return String(format: "x%.2f [%.2f-%.2f]", ours / theirs, perRound.min() ?? .nan, perRound.max() ?? .nan)
    }

    /// The middle value (the mean of the middle two for an even count); nil when empty.
    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted(), middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    func timeSgemm(_ engine: Engine, _ s: (m: Int, n: Int, k: Int, ta: Bool, tb: Bool, fused: Fused, label: String),
                   blas: OpenBLAS?) throws -> SgemmResult {
        var random = SplitMix(seed: 1)
        let aCount = s.m * s.k, bCount = s.k * s.n
        let av = (0..<aCount).map { _ in random.nextFloat() }, bv = (0..<bCount).map { _ in random.nextFloat() }
        let a = try engine.tensor(av, rows: s.ta ? s.k : s.m, columns: s.ta ? s.m : s.k)
        let b = try engine.tensor(bv, rows: s.tb ? s.n : s.k, columns: s.tb ? s.k : s.n)
        let c = try engine.tensor(rows: s.m, columns: s.n)
        let epilogue: MatmulEpilogue
        switch s.fused {
        case .none: epilogue = .none
        case .biasSiLU:
            epilogue = .biasActivation(bias: try engine.tensor((0 ..< s.n).map { _ in random.nextFloat() }, rows: 1, columns: s.n),
                                       activation: .silu, preActivation: try engine.tensor(rows: s.m, columns: s.n))
        case .siluGradient:
            epilogue = .activationGradient(preActivation: try engine.tensor((0 ..< s.m * s.n).map { _ in random.nextFloat() },
                                                                            rows: s.m, columns: s.n), activation: .silu)
        }
        let flops = 2.0 * Double(s.m) * Double(s.n) * Double(s.k)
        // Several launches per timed call so queue overhead is amortised the way a training step amortises it.
        let batch = max(1, Int(2e9 / flops))
        let perCall = try secondsPerCall(minSeconds: seconds) {
            for _ in 0..<batch { try engine.matmul(a, transposeA: s.ta, b, transposeB: s.tb, into: c, epilogue: epilogue) }
            try engine.synchronize()
        }
        var reference: Double?
        if let blas {
            var out = [Float](repeating: 0, count: s.m * s.n)
            let t = secondsPerCall(minSeconds: seconds) {
                for _ in 0..<batch { blas.multiply(m: s.m, n: s.n, k: s.k, transposeA: s.ta, transposeB: s.tb, a: av, b: bv, c: &out) }
            }
            reference = flops * Double(batch) / t * 1e-9
        }
        return SgemmResult(m: s.m, n: s.n, k: s.k, transpose: (s.ta ? "T" : "N") + (s.tb ? "T" : "N"), label: s.label + s.fused.rawValue,
                           gflops: flops * Double(batch) / perCall * 1e-9, openblasGflops: reference)
    }
}

struct KernelsReport: Codable {
    var device: DeviceInfo
    var sgemm: [SgemmResult]
    var convolutions: [ConvolutionResult]
    var trainStep: TrainStepResult
    var trainSteps: [TrainStepResult]
    var sampling: [SamplingResult]
    var jvp: [JVPResult]?
    enum CodingKeys: String, CodingKey {
        case device, sgemm, sampling, convolutions, jvp
        case trainStep = "train_step"
        case trainSteps = "train_steps"
    }
}

/// Small deterministic generator for benchmark inputs.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func nextFloat() -> Float { Float(Double(next() >> 11) / Double(1 << 52)) - 1 }
}
