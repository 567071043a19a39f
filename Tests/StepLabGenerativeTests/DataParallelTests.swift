import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabTestSupport
import Testing
@testable import StepLabGenerative

@Suite struct DataParallelTests {
    static let network = DenoiserConfig(dimension: 2, architecture: .resmlp, width: 16, blocks: 2)

    /// The rows `range` of a whole-batch tensor's values (columns per row `d`).
    static func rows(_ values: [Float], _ range: Range<Int>, d: Int) -> [Float] { Array(values[(range.lowerBound * d) ..< (range.upperBound * d)]) }

    @Test func aShardDrawsExactlyTheGlobalBatchsRows() throws {
        try SharedEngine.withEngine { engine in
            let batch = 24, d = 2, tail = 8 ..< 24
            let model = try Denoiser(engine: engine, config: Self.network, seed: 3)
            let x = TestData.eightGaussians(count: batch, seed: 1)
            let whole = try engine.tensor(x, rows: batch, columns: d), part = try engine.tensor(Self.rows(x, tail, d: d), rows: tail.count, columns: d)

            let diffusion = (try DiffusionObjective(model: model, batch: batch, seed: 5), try DiffusionObjective(model: model, batch: 16, seed: 5, firstRow: 8))
            let lossWhole = try diffusion.0.computeGradients(x0: whole, step: 3).download()
            let (tWhole, targetWhole) = (try diffusion.0.t.download(), try diffusion.0.target.download())
            let lossPart = try diffusion.1.computeGradients(x0: part, step: 3).download()
            #expect(Self.rows(tWhole, tail, d: 1) == (try diffusion.1.t.download()))
            #expect(Self.rows(targetWhole, tail, d: d) == (try diffusion.1.target.download()))
            expectClose(lossPart, Self.rows(lossWhole, tail, d: 1), rtol: 1e-5, atol: 1e-7, "per-sample loss")

            let config = MultistepConfig(segments: 4, teacherStepsStart: 16, teacherStepsEnd: 16)
            let multistep = (try MultistepConsistencyObjective(model: model, config: config, batch: batch, seed: 6),
                             try MultistepConsistencyObjective(model: model, config: config, batch: 16, seed: 6, firstRow: 8))
            _ = try multistep.0.computeGradients(x0: whole, step: 2)
            let (t, s, eps) = (try multistep.0.t.download(), try multistep.0.s.download(), try multistep.0.eps.download())
            _ = try multistep.1.computeGradients(x0: part, step: 2)
            #expect(Self.rows(t, tail, d: 1) == (try multistep.1.t.download()))
            #expect(Self.rows(s, tail, d: 1) == (try multistep.1.s.download()))
            #expect(Self.rows(eps, tail, d: d) == (try multistep.1.eps.download()))

            let consistency = (try ConsistencyObjective(model: model, config: ConsistencyConfig(totalIterations: 100), batch: batch, seed: 7),
                               try ConsistencyObjective(model: model, config: ConsistencyConfig(totalIterations: 100), batch: 16, seed: 7, firstRow: 8))
            _ = try consistency.0.computeGradients(x0: whole, step: 4)
            let (high, noise) = (try consistency.0.sigmaHi.download(), try consistency.0.eps.download())
            _ = try consistency.1.computeGradients(x0: part, step: 4)
            #expect(Self.rows(high, tail, d: 1) == (try consistency.1.sigmaHi.download()))
            #expect(Self.rows(noise, tail, d: d) == (try consistency.1.eps.download()))

            let edm = (try EDMDiffusionObjective(model: model, batch: batch, seed: 8), try EDMDiffusionObjective(model: model, batch: 16, seed: 8, firstRow: 8))
            _ = try edm.0.computeGradients(x0: whole, step: 5)
            let sigma = try edm.0.sigma.download()
            _ = try edm.1.computeGradients(x0: part, step: 5)
            #expect(Self.rows(sigma, tail, d: 1) == (try edm.1.sigma.download()))
        }
    }

    @Test func sourcesFillAShardWithTheGlobalBatchsRows() throws {
        try SharedEngine.withEngine { engine in
            let sources: [any BatchSource] = [
                try DeviceDataset(engine: engine, values: TestData.eightGaussians(count: 100, seed: 2), count: 100, dimension: 2, seed: 4),
                try DataSpec.parse("checkerboard").source(engine: engine, normalization: Normalization(mean: [0, 0], std: [1, 1]), seed: 4),
            ]
            for source in sources {
                let whole = try engine.tensor(rows: 20, columns: 2), part = try engine.tensor(rows: 12, columns: 2)
                try source.fill(whole, step: 9)
                try source.fill(part, step: 9, firstRow: 8)
                #expect(Self.rows(try whole.download(), 8 ..< 20, d: 2) == (try part.download()))
            }
        }
    }

    @Test func aBatchSplitsOnlyIntoShardsOfWholePhiloxBlocks() throws {
        #expect(try BatchShard.split(batch: 64, count: 4, index: 3) == BatchShard(firstRow: 48, rows: 16))
        #expect(try BatchShard.split(batch: 10, count: 1, index: 0) == BatchShard(firstRow: 0, rows: 10))
        #expect(throws: OpenCLError.self) { try BatchShard.split(batch: 20, count: 2, index: 0) }
        #expect(throws: OpenCLError.self) { try BatchShard.split(batch: 64, count: 2, index: 2) }
    }

    /// Trains `method` (multistep CT with 2 segments by default) on `replicas` data-parallel replicas (one engine, as
    /// POCL's single CPU device opened twice would be) and returns the first step's reduced gradient and the final
    /// raw and EMA weights; with buckets, each step's must have been read during the backward.
    static func train(replicas: Int, steps: Int, engine: Engine, network: DenoiserConfig = network, method: TrainingMethod = .mct,
                      bucketFloats: Int? = DataParallelTrainer.defaultBucketFloats) throws -> (gradient: [Float], weights: [Float]) {
        let d = network.dimension
        var random = TestRandom(seed: 2)
        let values = d == 2 ? TestData.eightGaussians(count: 512, seed: 2) : random.array(512 * d)
        let source = try DeviceDataset(engine: engine, values: values, count: 512, dimension: d, seed: 4)
        let trainers = try (0 ..< replicas).map { index in
            let shard = try BatchShard.split(batch: 32, count: replicas, index: index)
            var config = network
            if method != .mct { (config.timeScale, config.timeInputs, config.weighting) = (method.defaultTimeScale, method.timeInputs, method.weighting) }
            let model = try Denoiser(engine: engine, config: config, seed: 3)
            let objective = method == .mct
                ? try MultistepConsistencyObjective(model: model, config: MultistepConfig(segments: 2, teacherStepsStart: 8, teacherStepsEnd: 8),
                                                    batch: shard.rows, seed: 9, firstRow: shard.firstRow)
                : try method.makeObjective(TrainingMethod.ObjectiveRequest(model: model, iterations: steps, batch: 32, shard: shard, seed: 9))
            return try Trainer(objective: objective, source: source,
                               config: OptimizationConfig(learningRate: 1e-3, adam: AdamW.Hyperparameters(maxGradientNorm: 1), emaDecay: 0.9))
        }
        let parallel = try DataParallelTrainer(replicas: trainers, bucketFloats: bucketFloats)
        var gradient: [Float] = []
        for step in 0 ..< steps {
            try parallel.trainStep()
            for watch in parallel.watches {
                #expect(watch.valid, "the bucket plan failed, so nothing overlapped")
                // The backward finishes the last layers first, so with a bucket per parameter their reads come first.
                #expect(bucketFloats != 1 || watch.order != watch.order.sorted())
            }
            if step == 0 { gradient = try parallel.primary.model.parameters.gradients.download() }
        }
        let weights = try trainers.map { try $0.model.parameters.values.download() + $0.ema!.values.download() }
        for other in weights.dropFirst() { #expect(other == weights[0], "replicas drifted apart") }
        return (gradient, weights[0])
    }

    @Test func replicasComputeTheOneDeviceStepAndRepeatToTheByte() throws {
        try SharedEngine.withEngine { engine in
            let single = try Self.train(replicas: 1, steps: 20, engine: engine)
            let two = try Self.train(replicas: 2, steps: 20, engine: engine), again = try Self.train(replicas: 2, steps: 20, engine: engine)
            let four = try Self.train(replicas: 4, steps: 20, engine: engine)
            #expect(two.weights == again.weights, "two 2-replica runs differ")
            // The averaged gradient is the whole batch's up to float summation order.
            expectClose(two.gradient, single.gradient, rtol: 1e-4, atol: 1e-6, "2-replica gradient")
            expectClose(four.gradient, single.gradient, rtol: 1e-4, atol: 1e-6, "4-replica gradient")
            // After 20 AdamW steps at lr 1e-3: rounding moves a weight by at most a few updates' worth where a gradient is near zero.
            expectClose(two.weights, single.weights, rtol: 0, atol: 2e-3, "2-replica weights")
            #expect(two.gradient.contains { $0 != 0 })
        }
    }

    /// Buckets reduced during the backward sum every value in the same order as the whole vector after it: the same
    /// bytes, on an MLP and on a U-Net (skip joins, FiLM), with buckets of a few parameters so the order is exercised.
    @Test func bucketsReducedDuringTheBackwardGiveTheWholeVectorsBytes() throws {
        let unet = DenoiserConfig(dimension: 64, architecture: .unet, prediction: .v,
                                  unet: UNetShape(height: 8, width: 8, imageChannels: 1, channels: 8, channelMult: [1, 2], groups: 4))
        try SharedEngine.withEngine { engine in
            for network in [Self.network, unet] {
                let whole = try Self.train(replicas: 2, steps: 3, engine: engine, network: network, bucketFloats: nil)
                for floats in [1, 300, DataParallelTrainer.defaultBucketFloats] {
                    let bucketed = try Self.train(replicas: 2, steps: 3, engine: engine, network: network, bucketFloats: floats)
                    #expect(bucketed.gradient == whole.gradient && bucketed.weights == whole.weights, "\(network.architecture), buckets of \(floats)")
                }
            }
        }
    }

    /// The newer recipes (tangent passes for sCM and MeanFlow, the EMA's two half jumps for shortcut models) overlap
    /// their reduction with the backward too, and give the same bytes as with the whole vectors.
    @Test(arguments: [TrainingMethod.scm, .meanflow, .shortcut])
    func theRecipesGiveTheWholeVectorsBytesWithBuckets(method: TrainingMethod) throws {
        try SharedEngine.withEngine { engine in
            let whole = try Self.train(replicas: 2, steps: 3, engine: engine, method: method, bucketFloats: nil)
            let bucketed = try Self.train(replicas: 2, steps: 3, engine: engine, method: method, bucketFloats: 300)
            #expect(bucketed.gradient == whole.gradient && bucketed.weights == whole.weights)
            #expect(whole.gradient.contains { $0 != 0 })
        }
    }

    /// The plan holds for one backward per step; a second one adds into buckets already read, so the watch says so
    /// and the reduction takes the whole vectors after the step instead.
    @Test func aSecondBackwardInAStepFallsBackToTheWholeVectors() throws {
        try SharedEngine.withEngine { engine in
            let model = try Denoiser(engine: engine, config: Self.network, seed: 3)
            let watch = try GradientWatch(store: model.parameters, engine: engine, bucketFloats: 64)
            let objective = try DiffusionObjective(model: model, batch: 8, seed: 1)
            let x = try engine.tensor(TestData.eightGaussians(count: 8, seed: 1), rows: 8, columns: 2)
            watch.beginStep()
            _ = try objective.computeGradients(x0: x, step: 0)
            #expect(watch.valid)
            _ = try objective.computeGradients(x0: x, step: 1)
            try watch.finishStep()
            #expect(!watch.valid)
            #expect(GradientBucketSum.order(of: [watch]) == nil)
        }
    }

    @Test func bucketsHoldWholeParametersInLayoutOrder() throws {
        let entries = try SharedEngine.withEngine { engine in
            try ParameterStore(engine: engine, shapes: [("a", 2, 5), ("b", 1, 5), ("c", 4, 5), ("d", 1, 1)]).entries
        }
        #expect(try GradientBuckets(entries: entries, floats: 16).ranges == [0 ..< 15, 15 ..< 35, 35 ..< 36])
        #expect(try GradientBuckets(entries: entries, floats: 1000).ranges == [0 ..< 36])
        #expect(throws: OpenCLError.self) { try GradientBuckets(entries: entries, floats: 0) }
    }

    @Test func replicasMustHoldConsecutiveShards() throws {
        try SharedEngine.withEngine { engine in
            let source = try DeviceDataset(engine: engine, values: TestData.eightGaussians(count: 64, seed: 2), count: 64, dimension: 2, seed: 4)
            let trainers = try [8, 0].map { firstRow in
                try Trainer(objective: DiffusionObjective(model: Denoiser(engine: engine, config: Self.network, seed: 3), batch: 8, seed: 1, firstRow: firstRow),
                            source: source, config: OptimizationConfig())
            }
            #expect(throws: OpenCLError.self) { try DataParallelTrainer(replicas: trainers) }
        }
    }

    /// The study and `steplab sample` draw with the EMA weights passed through the tape (`parameters:`); every layer
    /// must read them there, or a sample would mix raw and averaged weights.
    @Test(arguments: [NetworkArchitecture.mlp, .resmlp, .unet])
    func weightsPassedThroughTheTapeEqualACopyHoldingThem(architecture: NetworkArchitecture) throws {
        try SharedEngine.withEngine { engine in
            let config = architecture == .unet
                ? DenoiserConfig(dimension: 64, architecture: .unet, prediction: .v,
                                 unet: UNetShape(height: 8, width: 8, imageChannels: 1, channels: 8, channelMult: [1, 2], groups: 4))
                : DenoiserConfig(dimension: 2, architecture: architecture, width: 16, depth: 2, blocks: 2)
            let model = try Denoiser(engine: engine, config: config, seed: 3), other = try Denoiser(engine: engine, config: config, seed: 4)
            // Every weight moved (a U-Net's last convolution starts at zero, which would hide which weights were read).
            var random = TestRandom(seed: 6)
            try other.parameters.values.upload(try other.parameters.values.download().map { $0 + random.uniform(-0.05, 0.05) })
            let noise = try TestData.noise(engine, rows: 8, columns: config.dimension, seed: 5)
            let passed = try VPSampler(model: model).sample(noise: noise, steps: 4, parameters: other.parameters.values).download()
            let held = try VPSampler(model: other).sample(noise: noise, steps: 4).download()
            #expect(passed == held)
            #expect(passed != (try VPSampler(model: model).sample(noise: noise, steps: 4).download()))
        }
    }
}
