import Foundation
import OpenCLKit
import StepLabEngine

/// Settings of one-step consistency training and distillation in EDM sigma space, with iCT's defaults
/// (Song & Dhariwal 2023).
public struct ConsistencyConfig: Sendable, Equatable, Codable {
    public var edm = EDMConfig()
    /// Discretisation curriculum N(k) = min(s0 2^floor(k / K'), s1) + 1, K' = floor(K / (log2 floor(s1 / s0) + 1)).
    public var s0: Int = 10
    public var s1: Int = 1280
    /// K: the run's total iterations (the curriculum spans them).
    public var totalIterations: Int
    /// Lognormal index sampling (iCT): P_mean, P_std.
    public var pMean: Double = -1.1
    public var pStd: Double = 2.0
    /// Pseudo-Huber c; nil means 0.00054 sqrt(d).
    public var huberC: Float?

    public init(totalIterations: Int, edm: EDMConfig = EDMConfig(), s0: Int = 10, s1: Int = 1280, pMean: Double = -1.1,
                pStd: Double = 2.0, huberC: Float? = nil) {
        self.totalIterations = totalIterations; self.edm = edm; self.s0 = s0; self.s1 = s1
        self.pMean = pMean; self.pStd = pStd; self.huberC = huberC
    }

    /// N(k), the number of grid points at iteration k.
    public func gridSize(at iteration: Int) -> Int {
        let doublings = Int(log2(Double(s1 / s0)).rounded(.down)) + 1
        let stage = Swift.max(1, totalIterations / doublings)
        let exponent = Swift.min(iteration / stage, 30)
        return Swift.min(s0 << exponent, s1) + 1
    }

    /// Cumulative probabilities of the N - 1 adjacent pairs (sigma_i, sigma_i+1) of the grid under iCT's
    /// lognormal proposal: p(i) proportional to erf((ln sigma_i+1 - P_mean) / (sqrt 2 P_std)) - erf((ln sigma_i - P_mean) / (sqrt 2 P_std)).
    public func pairCDF(grid: [Float]) -> [Float] {
        let masses = (0 ..< grid.count - 1).map { i -> Double in
            let a = erf((log(Double(grid[i])) - pMean) / (2.0.squareRoot() * pStd))
            let b = erf((log(Double(grid[i + 1])) - pMean) / (2.0.squareRoot() * pStd))
            return b - a
        }
        let total = masses.reduce(0, +)
        var running = 0.0
        var cdf = masses.map { running += $0; return Float(running / total) }
        cdf[cdf.count - 1] = 1
        return cdf
    }
}

/// One-step consistency training (CT, from data) or distillation (CD, one Heun step of a diffusion teacher),
/// in EDM sigma space (Song et al. 2023; iCT: Song & Dhariwal 2023): for a pair sigma_i < sigma_i+1 of the
/// Karras grid drawn by lognormal index sampling,
///   L = 1 / (sigma_i+1 - sigma_i) * d(f(x + sigma_i+1 eps, sigma_i+1), stopgrad f(x_sigma_i, sigma_i))
/// with d the pseudo-Huber distance and x_sigma_i = x + sigma_i eps (CT) or the Heun step (CD). The teacher
/// is the online network (iCT) unless `teacherParameters` is set (the original CM's EMA teacher).
public final class ConsistencyObjective: TrainingObjective {
    public let model: Denoiser
    public let edm: EDMModel
    public let config: ConsistencyConfig
    public let teacher: VPAsEDMDenoiser?
    /// Parameters for the stop-gradient target; nil uses the online weights (iCT).
    public var teacherParameters: Tensor?
    public let key: RandomKey
    /// The rows of the step's global batch this objective computes (all of them unless data-parallel).
    public let shard: BatchShard
    let huberC: Float
    let sigmaHi, sigmaLo, weight, perSample: Tensor
    let eps, xHi, xLo, fHi, fLo, gradient, slope, xEuler, denoised: Tensor
    let tape, targetTape: Tape
    var gridBuffers: (size: Int, cdf: Buffer<Float>, grid: Buffer<Float>)?

    public init(model: Denoiser, config: ConsistencyConfig, teacher: Denoiser? = nil, batch: Int, seed: UInt64,
                firstRow: Int = 0) throws(OpenCLError) {
        let engine = model.engine, d = model.config.dimension
        self.model = model
        self.config = config
        edm = EDMModel(network: model, config: config.edm, boundary: true)
        self.teacher = try teacher.map { t throws(OpenCLError) in try VPAsEDMDenoiser(model: t, batch: batch) }
        key = RandomKey(seed: seed)
        shard = BatchShard(firstRow: firstRow, rows: batch)
        huberC = config.huberC ?? 0.00054 * Float(d).squareRoot()
        func column() throws(OpenCLError) -> Tensor { try engine.tensor(rows: batch, columns: 1) }
        func matrix() throws(OpenCLError) -> Tensor { try engine.tensor(rows: batch, columns: d) }
        sigmaHi = try column(); sigmaLo = try column(); weight = try column(); perSample = try column()
        eps = try matrix(); xHi = try matrix(); xLo = try matrix(); fHi = try matrix(); fLo = try matrix()
        gradient = try matrix(); slope = try matrix(); xEuler = try matrix(); denoised = try matrix()
        tape = edm.makeTape()
        targetTape = edm.makeTape()
    }

    /// The grid and pair CDF for N(k), uploaded when N changes.
    func grid(at step: Int) throws(OpenCLError) -> (size: Int, cdf: Buffer<Float>, grid: Buffer<Float>) {
        let size = config.gridSize(at: step)
        if let buffers = gridBuffers, buffers.size == size { return buffers }
        let grid = config.edm.karrasGrid(count: size)
        let buffers = (size, try model.engine.context.buffer(config.pairCDF(grid: grid)), try model.engine.context.buffer(grid))
        gridBuffers = buffers
        return buffers
    }

    public func computeGradients(x0: Tensor, step: Int) throws(OpenCLError) -> Tensor {
        let engine = model.engine
        let counter = UInt64(step)
        try model.parameters.zeroGradients(engine: engine)
        let buffers = try grid(at: step)
        let pairsKey = shard.rowKey(RandomKey(seed: key.seed, stream: .consistencyPairs, counter: counter))
        try engine.ictPairs(cdf: buffers.cdf, grid: buffers.grid, key: pairsKey, sigmaHi: sigmaHi, sigmaLo: sigmaLo, weight: weight)
        try engine.normal(into: eps, key: shard.elementKey(RandomKey(seed: key.seed, stream: .consistencyNoise, counter: counter), columns: eps.columns))
        try engine.edmNoise(x0, eps, sigma: sigmaHi, into: xHi)
        if let teacher {
            // CD: one Heun step of the teacher's probability-flow ODE from sigma_i+1 down to sigma_i.
            try teacher.denoise(xHi, sigma: sigmaHi, into: denoised)
            try engine.edmEulerStep(xHi, denoised: denoised, from: sigmaHi, to: sigmaLo, slope: slope, into: xEuler)
            try teacher.denoise(xEuler, sigma: sigmaLo, into: denoised)
            try engine.edmHeunStep(xHi, slope: slope, xEuler: xEuler, denoised: denoised, from: sigmaHi, to: sigmaLo, into: xLo)
        } else {
            try engine.edmNoise(x0, eps, sigma: sigmaLo, into: xLo)
        }
        try edm.denoise(xLo, sigma: sigmaLo, tape: targetTape, parameters: teacherParameters, recording: false, into: fLo)
        try edm.denoise(xHi, sigma: sigmaHi, tape: tape, into: fHi)
        try engine.loss(.pseudoHuber(c: huberC), prediction: fHi, target: fLo, weights: weight, perSample: perSample,
                        gradient: gradient)
        try edm.backward(gradient, tape: tape)
        return perSample
    }
}

extension Engine {
    /// iCT's pairs, one per row from its Philox block (`ict_pairs`): the pair (grid[i], grid[i + 1]) of the ascending
    /// Karras `grid` whose cumulative probability `cdf[i]` (`ConsistencyConfig.pairCDF`) first reaches a uniform draw,
    /// and its weight 1 / (grid[i + 1] - grid[i]).
    public func ictPairs(cdf: Buffer<Float>, grid: Buffer<Float>, key: RandomKey, sigmaHi: Tensor, sigmaLo: Tensor,
                         weight: Tensor) throws(OpenCLError) {
        guard grid.count >= 2, cdf.count == grid.count - 1 else {
            throw .invalidRequest("ictPairs: a grid of \(grid.count) levels needs \(grid.count - 1) cumulative probabilities (got \(cdf.count))")
        }
        try requireColumn("ictPairs", sigmaHi, sigmaLo, weight, rows: sigmaHi.rows)
        let (c, k) = (key.philoxCounter, key.philoxKey)
        try launch("edm.cl", "ict_pairs", global: [sigmaHi.rows], Int32(cdf.count), cdf, grid, c[0], c[1], c[2], c[3], k[0], k[1],
                   sigmaHi.storage, sigmaHi.kernelOffset, sigmaLo.storage, sigmaLo.kernelOffset, weight.storage, weight.kernelOffset)
    }
}

extension Reference {
    /// `ict_pairs` in float64 from one row's first Philox word: (sigma_hi, sigma_lo, weight).
    public static func ictPair(_ word: UInt32, cdf: [Float], grid: [Float]) -> (hi: Double, lo: Double, weight: Double) {
        let u = unitOpen(word)
        let index = cdf.firstIndex { $0 >= u } ?? cdf.count - 1
        let (lo, hi) = (Double(grid[index]), Double(grid[index + 1]))
        return (hi, lo, 1 / (hi - lo))
    }
}
