import Foundation
import OpenCLKit
import StepLabEngine

/// An MLP image classifier trained by StepLab itself on a labelled data set. Its last hidden layer gives the
/// feature vectors on which the Frechet distance and KID compare generated with real images (the role Inception
/// features play for FID, Heusel et al. 2017), and its predictions give the class coverage of samples.
public final class ImageClassifier {
    /// Training settings; part of the cache key, so a change retrains.
    public struct Recipe: Sendable, Equatable, Codable {
        public var width = 256
        public var depth = 2
        public var steps = 3000
        public var batch = 256
        public var learningRate: Float = 1e-3
        public var seed: UInt64 = 0
        public init() {}

        /// A name that changes with every setting (and the format version).
        var cacheName: String { "w\(width)-d\(depth)-s\(steps)-b\(batch)-lr\(learningRate)-seed\(seed)-v1" }
    }

    public let network: MLP
    public let classes: Int
    /// Top-1 accuracy on the held-out set it was scored on when trained.
    public let testAccuracy: Double

    init(network: MLP, classes: Int, testAccuracy: Double) {
        self.network = network
        self.classes = classes
        self.testAccuracy = testAccuracy
    }

    /// Feature dimension (the last hidden layer's width).
    public var featureDimension: Int { network.config.width }

    static func config(pixels: Int, classes: Int, recipe: Recipe) -> MLPConfig {
        MLPConfig(inputs: pixels, width: recipe.width, depth: recipe.depth, outputs: classes, activation: .silu)
    }

    /// Trains on `train` with AdamW and softmax cross-entropy, then scores top-1 accuracy on `test`.
    /// `log` receives a line now and then.
    public static func train(engine: Engine, train: ImageDataset, test: ImageDataset, recipe: Recipe = Recipe(),
                             log: (String) -> Void = { _ in }) throws(OpenCLError) -> ImageClassifier {
        let classes = train.classNames.count
        let network = try MLP(engine: engine, config: config(pixels: train.images.dimension, classes: classes, recipe: recipe),
                              seed: recipe.seed)
        let data = try LabelledDataset(engine: engine, dataset: train, seed: recipe.seed)
        let tape = network.makeTape()
        let batch = try engine.tensor(rows: recipe.batch, columns: train.images.dimension)
        let labels = try engine.context.buffer(Int32.self, count: recipe.batch)
        let perSample = try engine.tensor(rows: recipe.batch, columns: 1), correct = try engine.tensor(rows: recipe.batch, columns: 1)
        let gradient = try engine.tensor(rows: recipe.batch, columns: classes)
        let optimizer = try AdamW(parameters: network.parameters, engine: engine)
        let mean = try engine.tensor(rows: 1, columns: 1)
        for step in 0 ..< recipe.steps {
            try data.fill(batch, labels: labels, step: step)
            let logits = try network.run(batch, tape: tape)
            try engine.softmaxCrossEntropy(logits: logits, labels: labels, perSample: perSample, gradient: gradient, correct: correct)
            try network.parameters.zeroGradients(engine: engine)
            _ = try network.backward(gradient, tape: tape)
            // Cosine decay to zero: the last steps settle instead of bouncing on the final minibatches.
            let lr = recipe.learningRate * Float(0.5 * (1 + cos(Double.pi * Double(step) / Double(recipe.steps))))
            try optimizer.update(lr: lr)
            if (step + 1) % 500 == 0 {
                try engine.columnSums(perSample, alpha: 1 / Float(recipe.batch), into: mean)
                log(String(format: "classifier step %d/%d, loss %.4f", step + 1, recipe.steps, try mean.download()[0]))
            }
        }
        let classifier = ImageClassifier(network: network, classes: classes, testAccuracy: 0)
        let predicted = try classifier.evaluate(test.images).predictions
        let hits = zip(predicted, test.labels).filter { $0 == $1 }.count
        return ImageClassifier(network: network, classes: classes, testAccuracy: Double(hits) / Double(test.labels.count))
    }

    /// Penultimate-layer features (count x featureDimension) and the predicted class of each image.
    public func evaluate(_ images: PointSet, chunk: Int = 1000) throws(OpenCLError) -> (features: PointSet, predictions: [Int]) {
        guard images.dimension == network.config.inputs else {
            throw .invalidRequest("classifier expects images of \(network.config.inputs) pixels, got \(images.dimension)")
        }
        let engine = network.engine
        var features: [Float] = [], predictions: [Int] = []
        features.reserveCapacity(images.count * featureDimension)
        let tape = network.makeTape()
        var start = 0
        while start < images.count {
            let rows = Swift.min(chunk, images.count - start)
            let input = try engine.tensor(Array(images.values[start * images.dimension ..< (start + rows) * images.dimension]),
                                          rows: rows, columns: images.dimension)
            let logits = try network.run(input, tape: tape).download()
            features += try network.features(tape: tape).download()
            for i in 0 ..< rows {
                let row = logits[i * classes ..< (i + 1) * classes]
                predictions.append(row.firstIndex(of: row.max()!)! - i * classes)
            }
            start += rows
        }
        return (PointSet(count: images.count, dimension: featureDimension, values: features), predictions)
    }
}

extension ImageClassifier {
    /// Where trained classifiers are kept: `$STEPLAB_CACHE`, else `$XDG_CACHE_HOME/steplab`, else `~/.cache/steplab`.
    public static var cacheDirectory: URL {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["STEPLAB_CACHE"] { return URL(fileURLWithPath: path) }
        let base = environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return base.appendingPathComponent("steplab")
    }

    /// The Fashion-MNIST classifier: loaded from the cache, or trained (deterministically, so a cache hit and a
    /// retrain give the same network on one device) and cached. An unwritable cache only costs a retrain later.
    public static func fashionMNIST(engine: Engine, recipe: Recipe = Recipe(), log: (String) -> Void = { _ in }) throws -> ImageClassifier {
        let train = try FashionMNIST.load(.train), test = try FashionMNIST.load(.test)
        let url = cacheDirectory.appendingPathComponent("fashion-mnist-classifier-\(recipe.cacheName).safetensors")
        let config = config(pixels: train.images.dimension, classes: train.classNames.count, recipe: recipe)
        if let file = try? SafeTensors.read(url), let accuracy = file.metadata["test_accuracy"].flatMap(Double.init) {
            let network = try MLP(engine: engine, config: config, seed: recipe.seed)
            if (try? network.parameters.load(file.tensors.mapValues(\.values))) != nil {
                return ImageClassifier(network: network, classes: train.classNames.count, testAccuracy: accuracy)
            }
        }
        log("training the Fashion-MNIST classifier for image metrics (cached in \(url.path))")
        let classifier = try ImageClassifier.train(engine: engine, train: train, test: test, recipe: recipe, log: log)
        log(String(format: "classifier test accuracy %.2f%%", 100 * classifier.testAccuracy))
        let tensors = try classifier.network.parameters.safeTensors()
        try? FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        try? SafeTensors.write(tensors, metadata: ["test_accuracy": String(classifier.testAccuracy), "recipe": recipe.cacheName], to: url)
        return classifier
    }
}
