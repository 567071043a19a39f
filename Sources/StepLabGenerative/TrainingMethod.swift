import OpenCLKit
import StepLabEngine

/// A training method (`steplab train --method NAME`), defined once: where its model lives, what it needs, its
/// defaults, its samplers and its objective. The methods themselves are in `TrainingMethod+Catalog.swift`; adding
/// one is one more value there, and `all` lists it.
public struct TrainingMethod: Sendable, CustomStringConvertible {
    /// Where a method's model lives: a model can start (`--init`) only from a run of the same space.
    public enum Space: String, Sendable {
        case vp = "the VP schedule"
        case edm = "EDM sigma space"
        case flow = "the flow z_t = (1 - t) x + t eps"
    }

    /// What a method's objective is built from: the run's settings and the network.
    public struct ObjectiveRequest {
        public var model: Denoiser
        /// The teacher's network (`--teacher`), for the methods that take one.
        public var teacher: Denoiser?
        /// The run's total iterations, which schedules (annealing, warm-up, ECT's stages) span.
        public var iterations: Int
        /// The whole batch, of which this replica computes `shard`.
        public var batch: Int
        public var shard: BatchShard
        public var seed: UInt64
        /// Multistep models' segments, and the iterations over which MCM anneals its teacher's steps.
        public var segments: Int
        public var annealSteps: Int

        public init(model: Denoiser, teacher: Denoiser? = nil, iterations: Int, batch: Int, shard: BatchShard? = nil, seed: UInt64,
                    segments: Int = 1, annealSteps: Int = 0) {
            self.model = model; self.teacher = teacher; self.iterations = iterations; self.batch = batch
            self.shard = shard ?? BatchShard(rows: batch); self.seed = seed; self.segments = segments; self.annealSteps = annealSteps
        }
    }

    /// The CLI's `--method` value, and the name `config.json` stores.
    public let name: String
    public let space: Space
    /// The method of the runs it may take as `--teacher` (nil: none).
    public let teacherMethod: String?
    /// Whether `--teacher` is required rather than optional.
    public let needsTeacher: Bool
    /// Whether the method tunes a trained model (`--init`) rather than training from scratch.
    public let needsInit: Bool
    /// Whether `--segments` applies (multistep models).
    public let usesSegments: Bool
    /// Samplers that fit its model; the first is `sample`'s default.
    public let samplers: [ModelSampler]
    /// The default sampler's steps for a model of `segments` segments.
    let defaultSteps: @Sendable (_ segments: Int) -> Int
    /// The AdamW learning rate `steplab train` uses unless told otherwise; the argument says whether the run starts
    /// from another run's weights (`--init`).
    let learningRate: @Sendable (_ initialised: Bool) -> Float
    /// The multiplier of the network's time inside its sinusoidal embedding unless told otherwise.
    public let defaultTimeScale: Float
    /// Times per sample its network reads (nil: one).
    public let timeInputs: Int?
    /// Features of the learned loss weighting its network carries (nil: none).
    public let weighting: Int?
    let objective: @Sendable (ObjectiveRequest) throws(OpenCLError) -> any TrainingObjective

    init(name: String, space: Space, teacherMethod: String? = nil, needsTeacher: Bool = false, needsInit: Bool = false,
         usesSegments: Bool = false, samplers: [ModelSampler], defaultSteps: @escaping @Sendable (Int) -> Int = { _ in 1 },
         learningRate: @escaping @Sendable (Bool) -> Float, defaultTimeScale: Float = 1000, timeInputs: Int? = nil, weighting: Int? = nil,
         objective: @escaping @Sendable (ObjectiveRequest) throws(OpenCLError) -> any TrainingObjective) {
        self.name = name; self.space = space; self.teacherMethod = teacherMethod; self.needsTeacher = needsTeacher
        self.needsInit = needsInit; self.usesSegments = usesSegments; self.samplers = samplers; self.defaultSteps = defaultSteps
        self.learningRate = learningRate; self.defaultTimeScale = defaultTimeScale; self.timeInputs = timeInputs
        self.weighting = weighting; self.objective = objective
    }

    public var description: String { name }

    /// The method called `name`, if there is one.
    public init?(name: String) {
        guard let method = Self.all.first(where: { $0.name == name }) else { return nil }
        self = method
    }

    /// Whether `--teacher` may be given.
    public var acceptsTeacher: Bool { teacherMethod != nil }

    /// The sampler `sample` uses unless told otherwise, and its default step count.
    public func defaultSampler(segments: Int) -> (sampler: ModelSampler, steps: Int) { (samplers[0], defaultSteps(segments)) }

    /// The sampler of this method called `name`, if it has one.
    public func sampler(named name: String) -> ModelSampler? { samplers.first { $0.name == name } }

    /// The AdamW learning rate `steplab train` uses unless told otherwise.
    public func defaultLearningRate(initialised: Bool) -> Float { learningRate(initialised) }

    /// The objective for `request`.
    public func makeObjective(_ request: ObjectiveRequest) throws(OpenCLError) -> any TrainingObjective { try objective(request) }
}

extension TrainingMethod: Equatable, Hashable {
    public static func == (a: TrainingMethod, b: TrainingMethod) -> Bool { a.name == b.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

extension TrainingMethod: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let method = TrainingMethod(name: name) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown method '\(name)'")
        }
        self = method
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}
