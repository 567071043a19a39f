import Foundation
import OpenCLKit
@testable import StepLabData
import StepLabEngine
import StepLabTestSupport
import Testing

@Suite struct ImageClassifierTests {
    static let installed = FileManager.default.fileExists(atPath: FashionMNIST.directory.appendingPathComponent("t10k-labels-idx1-ubyte.gz").path)

    /// Labelled batches keep each image with its own label: every gathered row is a data row of that label.
    @Test func labelledBatchesKeepImagesWithTheirLabels() throws {
        try SharedEngine.withEngine { engine in
            // Image k is filled with the value k, its label is k % 3.
            let count = 50, pixels = 4
            let set = ImageDataset(images: PointSet(count: count, dimension: pixels, values: (0 ..< count).flatMap { Array(repeating: Float($0), count: pixels) }),
                                   labels: (0 ..< count).map { $0 % 3 }, shape: ImageShape(height: 2, width: 2, channels: 1), classNames: ["a", "b", "c"])
            let data = try LabelledDataset(engine: engine, dataset: set, seed: 3)
            let batch = try engine.tensor(rows: 64, columns: pixels)
            let labels = try engine.context.buffer(Int32.self, count: 64)
            try data.fill(batch, labels: labels, step: 7)
            let rows = try batch.download(), gathered = try labels.download()
            var seen = Set<Int>()
            for i in 0 ..< 64 {
                let k = Int(rows[i * pixels])
                #expect(rows[i * pixels ..< (i + 1) * pixels].allSatisfy { $0 == Float(k) })
                #expect(Int(gathered[i]) == k % 3)
                seen.insert(k)
            }
            #expect(seen.count > 30)  // 64 draws with replacement from 50 rows reach about 36 distinct ones
            try data.fill(batch, labels: labels, step: 7)
            #expect(try batch.download() == rows)  // a pure function of the step
        }
    }

    /// A small classifier trained for 300 steps is far above chance (10%) on the held-out test split.
    @Test(.enabled(if: installed, "needs Debian's dataset-fashion-mnist"))
    func aSmallClassifierLearnsFashionMNIST() throws {
        let train = try FashionMNIST.load(.train), test = try FashionMNIST.load(.test)
        var recipe = ImageClassifier.Recipe()
        recipe.width = 64; recipe.depth = 1; recipe.steps = 300; recipe.batch = 128; recipe.learningRate = 3e-3
        try SharedEngine.withEngine { engine in
            let classifier = try ImageClassifier.train(engine: engine, train: train, test: test, recipe: recipe)
            // Measured: 0.84 (chance is 0.10).
            #expect(classifier.testAccuracy > 0.7, "accuracy \(classifier.testAccuracy)")
            let few = test.images.rows(0 ..< 37)
            let (features, predictions) = try classifier.evaluate(few, chunk: 16)
            #expect(features.count == 37 && features.dimension == 64 && predictions.count == 37)
            // Chunking does not change the answer.
            let whole = try classifier.evaluate(few, chunk: 1000)
            #expect(whole.predictions == predictions)
            expectClose(whole.features.values, features.values, rtol: 1e-5, atol: 1e-5, "features by chunk")

            // Pixels outside [-1, 1] are scored as the clipped values an 8-bit image would hold.
            let quality = try ImageQuality(extractor: classifier, reference: test.images.rows(0 ..< 200))
            let loud = test.images.rows(200 ..< 260)
            let saturated = PointSet(count: loud.count, dimension: loud.dimension, values: loud.values.map { 3 * $0 })
            let clipped = PointSet(count: loud.count, dimension: loud.dimension, values: saturated.values.map { min(1, max(-1, $0)) })
            #expect(saturated.values.contains { abs($0) > 1 })
            #expect(try quality.report(saturated) == quality.report(clipped))
        }
    }
}
