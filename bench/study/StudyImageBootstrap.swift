import StepLabData

/// One seed's paired resamples for image data: FD and KID replicates of every configuration's samples against the
/// reference images, on the features the scoring computes anyway. The reference (Fashion-MNIST's test split) is
/// held fixed, so the intervals are over the samples (and seeds), as `FrechetBootstrap` explains.
struct StudyImageBootstrap {
    let frechet: FrechetBootstrap
    let kernel: KernelDistanceBootstrap

    init(quality: ImageQuality, count: Int, replicates: Int, seed: UInt64) throws {
        frechet = FrechetBootstrap(reference: quality.referenceMoments, count: count, replicates: replicates, seed: seed)
        kernel = try KernelDistanceBootstrap(reference: quality.referenceFeatures, count: count, replicates: replicates, seed: seed ^ 0x4B1D)
    }
}
