/// Every Philox stream StepLab draws from (`RandomKey.stream`), in one table. A stream keeps one use's numbers apart
/// from every other use of the same seed, so two uses must never share one; as raw values of one enum, they cannot.
/// Tests draw from streams of their own below 100 that this table does not list.
public enum RandomStream: UInt32, CaseIterable, Sendable {
    // Training objectives, a pair each: (times, pairs or other per-row draws; the noise).
    case diffusionTime = 1, diffusionNoise = 2
    case multistepTimes = 11, multistepNoise = 12
    case consistencyPairs = 21, consistencyNoise = 22
    case edmSigma = 31, edmNoise = 32
    case meanFlowTimes = 41, meanFlowNoise = 42
    case shortcutDraws = 51, shortcutNoise = 52
    case ectPairs = 61, ectNoise = 62
    case scmSigma = 71, scmNoise = 72
    // Data: a built-in set's batches, an uploaded set's rows (`DeviceDataset`), a labelled set's batches, a built-in
    // set's reference points and the draw its standardisation is fitted on.
    case batches = 5, datasetRows = 7, labelledBatches = 9, referencePoints = 77, normalizationFit = 78
    // `steplab sample`: the starting noise and a consistency sampler's fresh noise; `steplab eval`: the reference draws.
    case sampleNoise = 101, consistencyRenoise = 102
    case evalReference = 201, evalFloorSample = 202, evalFloorReference = 203
    // The study (bench): the divergence bound's Gaussian, each seed's starting noise, the one-step models' and the
    // recipes' fresh noise, the sampling throughput's noise, the teacher gate's further noise draws, and the
    // diagnostics' trajectories and their one-step samples.
    case divergenceBound = 3, studyNoise = 500, studyConsistencyRenoise = 501, samplingThroughput = 502, studyRecipeRenoise = 503
    case studyGateNoise = 504
    case diagnosticsNoise = 600, diagnosticsRenoise = 601
}

extension RandomKey {
    /// A key of one of StepLab's streams.
    public init(seed: UInt64, stream: RandomStream, counter: UInt64 = 0) {
        self.init(seed: seed, stream: stream.rawValue, counter: counter)
    }
}
