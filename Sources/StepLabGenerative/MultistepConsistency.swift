import Foundation
import OpenCLKit
import StepLabEngine

/// Settings of multistep consistency training or distillation (MCM, Heek, Hoogeboom & Salimans 2024).
public struct MultistepConfig: Sendable, Equatable, Codable {
    /// S: the number of segments, and of sampling steps. S = 1 is a consistency model.
    public var segments: Int
    /// Teacher steps N_teacher(i), annealed log-linearly from `teacherStepsStart` to `teacherStepsEnd` over
    /// `annealSteps` iterations (MCM App. A.1: 64 -> 1280 over 100k of 200k).
    public var teacherStepsStart: Int = 64
    public var teacherStepsEnd: Int = 1280
    public var annealSteps: Int = 100_000
    /// Pseudo-Huber c; nil means iCT's 0.00054 sqrt(d).
    public var huberC: Float?
    /// The aDDIM teacher's fraction of the empirical posterior variance (MCM `xvar_frac`).
    public var xVarFraction: Float = 0.75

    public init(segments: Int, teacherStepsStart: Int = 64, teacherStepsEnd: Int = 1280, annealSteps: Int = 100_000,
                huberC: Float? = nil, xVarFraction: Float = 0.75) {
        self.segments = segments; self.teacherStepsStart = teacherStepsStart; self.teacherStepsEnd = teacherStepsEnd
        self.annealSteps = annealSteps; self.huberC = huberC; self.xVarFraction = xVarFraction
    }

    /// N_teacher(i) = exp(log N0 + clip(i / K, 0, 1) (log N1 - log N0)) (MCM App. A.1).
    public func teacherSteps(at iteration: Int) -> Int {
        let fraction = annealSteps > 0 ? Swift.min(Swift.max(Double(iteration) / Double(annealSteps), 0), 1) : 1
        let logN = log(Double(teacherStepsStart)) + fraction * (log(Double(teacherStepsEnd)) - log(Double(teacherStepsStart)))
        return Int(exp(logN).rounded())
    }

    /// N_per = max(1, round(N_teacher / S)).
    public func stepsPerSegment(at iteration: Int) -> Int {
        Swift.max(1, Int((Double(teacherSteps(at: iteration)) / Double(segments)).rounded()))
    }
}

/// Multistep consistency training (from data) or distillation (from a diffusion teacher), Algorithm 1 of MCM:
/// the student's x-prediction at (z_t, t) regresses, under an SNR + 1 weighted pseudo-Huber loss, onto
/// invDDIM_{t -> t_step}(DDIM_{s -> t_step}(stopgrad f(z_s, s), z_s), z_t), where z_s is one teacher step
/// from z_t: the exact forward process for CT, an aDDIM step of the teacher's x-prediction for CD.
public final class MultistepConsistencyObjective: TrainingObjective {
    public let model: Denoiser
    public let config: MultistepConfig
    /// The diffusion teacher for distillation; nil trains from data.
    public let teacher: Denoiser?
    public let key: RandomKey
    /// The rows of the step's global batch this objective computes (all of them unless data-parallel).
    public let shard: BatchShard
    let huberC: Float
    let t, s, tStep, eps, zt, zs, xhat, xref, xTeacher, xVar, target, weight, perSample, xGradient, outputGradient: Tensor
    let tape, referenceTape: Tape
    let teacherTape: Tape?

    public init(model: Denoiser, config: MultistepConfig, teacher: Denoiser? = nil, batch: Int, seed: UInt64,
                firstRow: Int = 0) throws(OpenCLError) {
        guard config.segments >= 1 else { throw .invalidRequest("segments must be at least 1 (got \(config.segments))") }
        if let teacher, teacher.config.dimension != model.config.dimension {
            throw .invalidRequest("teacher has dimension \(teacher.config.dimension), student \(model.config.dimension)")
        }
        let engine = model.engine, d = model.config.dimension
        self.model = model
        self.config = config
        self.teacher = teacher
        key = RandomKey(seed: seed)
        shard = BatchShard(firstRow: firstRow, rows: batch)
        huberC = config.huberC ?? 0.00054 * Float(d).squareRoot()
        func column() throws(OpenCLError) -> Tensor { try engine.tensor(rows: batch, columns: 1) }
        func matrix() throws(OpenCLError) -> Tensor { try engine.tensor(rows: batch, columns: d) }
        t = try column(); s = try column(); tStep = try column(); xVar = try column(); weight = try column()
        perSample = try column()
        eps = try matrix(); zt = try matrix(); zs = try matrix(); xhat = try matrix(); xref = try matrix()
        xTeacher = try matrix(); target = try matrix(); xGradient = try matrix(); outputGradient = try matrix()
        tape = model.makeTape()
        referenceTape = model.makeTape()
        teacherTape = teacher?.makeTape()
    }

    public func computeGradients(x0: Tensor, step: Int) throws(OpenCLError) -> Tensor {
        try computeGradients(x0: x0, step: step, teacherStepsAt: step)
    }

    /// A step's gradients with the random draws of `step` and the teacher steps of iteration `iteration`.
    func computeGradients(x0: Tensor, step: Int, teacherStepsAt iteration: Int) throws(OpenCLError) -> Tensor {
        let engine = model.engine
        let counter = UInt64(step)
        try model.parameters.zeroGradients(engine: engine)
        try engine.multistepTimes(segments: config.segments, stepsPerSegment: config.stepsPerSegment(at: iteration),
                                  key: shard.rowKey(RandomKey(seed: key.seed, stream: .multistepTimes, counter: counter)),
                                  t: t, s: s, segmentStart: tStep)
        try engine.normal(into: eps, key: shard.elementKey(RandomKey(seed: key.seed, stream: .multistepNoise, counter: counter), columns: eps.columns))
        try engine.addNoise(x0, eps, t: t, into: zt)
        if let teacher, let teacherTape {
            // CD: one aDDIM step of the teacher from z_t, with the empirical variance of its x-prediction.
            try teacher.predictX(zt, t: t, tape: teacherTape, recording: false, into: xTeacher)
            try engine.rowVariance(xTeacher, x0, eta: config.xVarFraction, into: xVar)
            try engine.aDDIMStep(xhat: xTeacher, zt: zt, xVar: xVar, t: t, s: s, into: zs)
        } else {
            // CT: the exact forward process at s with the same noise (aDDIM with x_var = 0 is DDIM).
            try engine.addNoise(x0, eps, t: s, into: zs)
        }
        try model.predictX(zs, t: s, tape: referenceTape, recording: false, into: xref)
        try engine.mcmTarget(xref: xref, zs: zs, zt: zt, t: t, s: s, tStep: tStep, into: target, weight: weight)
        try model.predictX(zt, t: t, tape: tape, into: xhat)
        try engine.loss(.pseudoHuber(c: huberC), prediction: xhat, target: target, weights: weight,
                        perSample: perSample, gradient: xGradient)
        try engine.predictionGradient(model.config.prediction, t: t, xGradient: xGradient, into: outputGradient)
        try model.backward(outputGradient: outputGradient, tape: tape)
        return perSample
    }
}

extension Engine {
    /// MCM's training times, one per row from its Philox block (`mcm_times`): a segment and a step n in 1 ... N of it,
    /// t = segment start + n / (segments N), s = t - 1 / (segments N) one step earlier, and the segment's start.
    public func multistepTimes(segments: Int, stepsPerSegment: Int, key: RandomKey, t: Tensor, s: Tensor,
                               segmentStart: Tensor) throws(OpenCLError) {
        guard segments >= 1, stepsPerSegment >= 1 else {
            throw .invalidRequest("multistepTimes: \(segments) segments of \(stepsPerSegment) steps")
        }
        try requireColumn("multistepTimes", t, s, segmentStart, rows: t.rows)
        let (c, k) = (key.philoxCounter, key.philoxKey)
        try launch("consistency.cl", "mcm_times", global: [t.rows], Int32(segments), Int32(stepsPerSegment), c[0], c[1], c[2], c[3],
                   k[0], k[1], t.storage, t.kernelOffset, s.storage, s.kernelOffset, segmentStart.storage, segmentStart.kernelOffset)
    }
}

extension Reference {
    /// `mcm_times` in float64 from one row's first two Philox words: (t, s, the segment's start).
    public static func multistepTimes(_ words: (UInt32, UInt32), segments: Int, stepsPerSegment: Int) -> (t: Double, s: Double, start: Double) {
        let segment = Int(words.0 % UInt32(segments)), step = 1 + Int(words.1 % UInt32(stepsPerSegment))
        let total = Double(segments * stepsPerSegment), start = Double(segment) / Double(segments)
        let t = start + Double(step) / total
        return (t, t - 1 / total, start)
    }
}
