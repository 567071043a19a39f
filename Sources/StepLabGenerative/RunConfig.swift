import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine

/// Everything that defines a training run; saved as `config.json` in the run folder.
public struct RunConfig: Codable, Sendable, Equatable {
    public var method: TrainingMethod
    /// A built-in data set name or the path of a CSV/NPY file.
    public var data: String
    public var dimension: Int
    /// Per-dimension mean and std used to standardise the data (samples are written back in data units).
    public var mean: [Float]
    public var std: [Float]
    public var iterations: Int
    public var batch: Int
    /// The network; absent in run folders written before `resmlp` existed, which are all `mlp`.
    public var architecture: NetworkArchitecture?
    public var width: Int
    /// Hidden layers of an `mlp`.
    public var depth: Int
    /// Residual blocks of a `resmlp`.
    public var blocks: Int?
    /// The images and levels of a `unet`.
    public var unet: UNetShape?
    /// The images, patches and heads of a `dit`.
    public var dit: DiTShape?
    /// The shape of image data (absent for points, and in run folders written before NPY images: Fashion-MNIST's).
    public var image: ImageShape?
    public var frequencies: Int = 8
    public var activation: String = "silu"
    public var prediction: String = "v"
    /// Multiplier of t in the time embedding (see `DenoiserConfig.timeScale`).
    public var timeScale: Float = 1000
    /// Times per sample the network is conditioned on (absent: one; see `DenoiserConfig.timeInputs`).
    public var timeInputs: Int?
    public var learningRate: Float
    /// The learning-rate decay and warm-up (absent in older run folders: constant, no warm-up).
    public var lrSchedule: LearningRateSchedule.Decay?
    public var warmup: Int?
    public var emaDecay: Float
    public var seed: UInt64
    public var segments: Int
    public var teacher: String?
    public var initFrom: String?
    /// Teacher steps annealed from 64 to 1280 over this many iterations (MCM); default half the run.
    public var annealSteps: Int
    public var maxGradientNorm: Float?

    public init(method: TrainingMethod, data: String, dimension: Int, mean: [Float], std: [Float], iterations: Int, batch: Int,
                width: Int, depth: Int, learningRate: Float, emaDecay: Float, seed: UInt64, segments: Int,
                teacher: String?, initFrom: String?, annealSteps: Int, maxGradientNorm: Float?) {
        self.method = method; self.data = data; self.dimension = dimension; self.mean = mean; self.std = std
        self.iterations = iterations; self.batch = batch; self.width = width; self.depth = depth
        self.learningRate = learningRate; self.emaDecay = emaDecay; self.seed = seed; self.segments = segments
        self.teacher = teacher; self.initFrom = initFrom; self.annealSteps = annealSteps; self.maxGradientNorm = maxGradientNorm
    }

    /// The shape of this run's images, nil for points.
    public var imageShape: ImageShape? {
        image ?? (data == DataSpec.fashionMNISTName ? ImageShape(height: 28, width: 28, channels: 1) : nil)
    }

    /// The learning rate over this run.
    public var schedule: LearningRateSchedule {
        LearningRateSchedule(decay: lrSchedule ?? .constant, warmupSteps: warmup ?? 0, totalSteps: iterations)
    }

    public var denoiser: DenoiserConfig {
        DenoiserConfig(dimension: dimension, architecture: architecture ?? .mlp, frequencies: frequencies, width: width, depth: depth,
                       blocks: blocks ?? 3,
                       activation: Activation(name: activation) ?? .silu, prediction: Prediction(name: prediction) ?? .v,
                       timeScale: timeScale, unet: unet, dit: dit, timeInputs: timeInputs,
                       weighting: method.weighting)
    }

    /// The objective for this run. `teacher` is the teacher's network for the methods that take one; `shard` the rows
    /// of each step's batch this replica computes (default: the whole batch).
    public func makeObjective(model: Denoiser, teacher: Denoiser?, shard: BatchShard? = nil) throws(OpenCLError) -> any TrainingObjective {
        try method.makeObjective(TrainingMethod.ObjectiveRequest(model: model, teacher: teacher, iterations: iterations, batch: batch,
                                                                 shard: shard, seed: seed, segments: segments, annealSteps: annealSteps))
    }
}
