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
    /// The reference images' features, and their moments with the covariance's square root.
    public let referenceFeatures: PointSet
    public let referenceMoments: FrechetReference

    public init(extractor: any ImageFeatureExtractor, reference: PointSet) throws {
        self.extractor = extractor
        referenceFeatures = try extractor.imageFeatures(reference).features
        referenceMoments = try FrechetReference(FeatureStatistics.Moments(referenceFeatures))
    }

    /// The report of `images` (pixels in [-1, 1], as the data); `seed` picks KID's subsets.
    public func report(_ images: PointSet, seed: UInt64 = 0) throws -> ImageQualityReport {
        let (features, predictions) = try features(images)
        return try report(features: features, predictions: predictions, seed: seed)
    }

    /// The features (and predicted classes) of `images`, whose pixels outside [-1, 1] are clipped first, as saving
    /// the images would clip them: FID is computed on 8-bit images (Heusel et al. 2017), and a few saturated pixels
    /// of a model's samples would otherwise drive the classifier's features, and FD with them, arbitrarily far.
    public func features(_ images: PointSet) throws -> (features: PointSet, predictions: [Int]?) {
        let clipped = PointSet(count: images.count, dimension: images.dimension, values: images.values.map { Swift.min(1, Swift.max(-1, $0)) })
        return try extractor.imageFeatures(clipped)
    }

    /// The report of images already mapped by `features(_:)`. `kernelDistance`: an unbiased MMD^2 against the
    /// whole reference computed elsewhere (a `KernelDistanceBootstrap`'s estimate) to report as the KID, with no
    /// subset spread; nil computes KID's mean over subsets.
    public func report(features: PointSet, predictions: [Int]?, seed: UInt64 = 0, kernelDistance: Double? = nil) throws -> ImageQualityReport {
        let kid = try kernelDistance.map { ($0, 0.0) } ?? {
            let subsets = try KernelInceptionDistance(features, referenceFeatures, seed: seed)
            return (subsets.mean, subsets.standardDeviation)
        }()
        return ImageQualityReport(count: features.count,
                                  frechetDistance: try referenceMoments.distance(to: FeatureStatistics.Moments(features)),
                                  kid: kid.0, kidStandardDeviation: kid.1,
                                  coverage: try predictions.flatMap { labels in try extractor.classCount.map { try ClassCoverage(labels: labels, classes: $0) } })
    }
}
