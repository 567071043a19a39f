import StepLabEngine

/// Quality of a set of images on an extractor's features, against a reference set.
public struct ImageQualityReport: Codable, Sendable, Equatable {
    /// Images scored.
    public let count: Int
    /// Frechet distance between the feature distributions (Gaussian fits; lower is better).
    public let frechetDistance: Double
    /// KID mean and the spread over its subsets (about 0 for the same distribution).
    public let kid: Double
    public let kidStandardDeviation: Double
    /// The classifier's predicted classes of the images (nil for features without classes).
    public let coverage: ClassCoverage?

    public init(count: Int, frechetDistance: Double, kid: Double, kidStandardDeviation: Double, coverage: ClassCoverage?) {
        self.count = count; self.frechetDistance = frechetDistance; self.kid = kid
        self.kidStandardDeviation = kidStandardDeviation; self.coverage = coverage
    }
}

/// Scores images against a fixed reference set (the test split) with an `ImageFeatureExtractor`: the reference's
/// features and moments are computed once.
public final class ImageQuality {
    public let extractor: any ImageFeatureExtractor
    let referenceFeatures: PointSet
    let referenceMoments: FrechetReference

    public init(extractor: any ImageFeatureExtractor, reference: PointSet) throws {
        self.extractor = extractor
        referenceFeatures = try extractor.imageFeatures(reference).features
        referenceMoments = try FrechetReference(FeatureStatistics.Moments(referenceFeatures))
    }

    /// The report of `images` (pixels in [-1, 1], as the data); `seed` picks KID's subsets. Pixels outside
    /// [-1, 1] are clipped first, as saving the images would clip them: FID is computed on 8-bit images
    /// (Heusel et al. 2017), and a few saturated pixels of a model's samples would otherwise drive the
    /// classifier's features, and FD with them, arbitrarily far.
    public func report(_ images: PointSet, seed: UInt64 = 0) throws -> ImageQualityReport {
        let clipped = PointSet(count: images.count, dimension: images.dimension, values: images.values.map { Swift.min(1, Swift.max(-1, $0)) })
        let (features, predictions) = try extractor.imageFeatures(clipped)
        let kid = try KernelInceptionDistance(features, referenceFeatures, seed: seed)
        return ImageQualityReport(count: images.count,
                                  frechetDistance: try referenceMoments.distance(to: FeatureStatistics.Moments(features)),
                                  kid: kid.mean, kidStandardDeviation: kid.standardDeviation,
                                  coverage: try predictions.flatMap { labels in try extractor.classCount.map { try ClassCoverage(labels: labels, classes: $0) } })
    }
}
