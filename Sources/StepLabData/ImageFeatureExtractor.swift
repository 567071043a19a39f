import StepLabEngine

/// What image metrics read images through: a feature vector per image and, for a classifier, its predicted class.
public protocol ImageFeatureExtractor {
    /// Features (`count x d`) of `images` (pixels in [-1, 1]), and the predicted classes when the extractor classifies.
    func imageFeatures(_ images: PointSet) throws -> (features: PointSet, predictions: [Int]?)
    /// Classes the predictions index (nil: no predictions).
    var classCount: Int? { get }
    /// What the features are, for reports.
    var featureDescription: String { get }
}

extension ImageClassifier: ImageFeatureExtractor {
    public func imageFeatures(_ images: PointSet) throws -> (features: PointSet, predictions: [Int]?) {
        let (features, predictions) = try evaluate(images)
        return (features, predictions)
    }

    public var classCount: Int? { classes }

    public var featureDescription: String {
        String(format: "the last hidden layer of StepLab's classifier (test accuracy %.2f%%)", 100 * testAccuracy)
    }
}

extension RandomImageFeatures: ImageFeatureExtractor {
    public func imageFeatures(_ images: PointSet) throws -> (features: PointSet, predictions: [Int]?) {
        (features(images), nil)
    }

    public var classCount: Int? { nil }

    public var featureDescription: String { "a fixed random convolutional network (RandomImageFeatures, not Inception)" }
}
