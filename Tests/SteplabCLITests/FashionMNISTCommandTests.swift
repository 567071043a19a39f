import Foundation
import Testing

/// Fashion-MNIST through the CLI: train on images, sample a PNG grid, and score images with the classifier's
/// metrics (trained into a fresh cache folder, so this also covers training and caching the classifier).
@Suite struct FashionMNISTCommandTests {
    static let installed = FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")

    /// `count` real test images (pixels in [-1, 1]) as a CSV, and as many uniform-noise images.
    static func writeImages(count: Int, real: URL, noise: URL) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"))
        let pixels = try gunzip(data).dropFirst(16)
        var realLines: [String] = [], noiseLines: [String] = []
        var state: UInt64 = 7
        for i in 0 ..< count {
            let image = pixels.dropFirst(i * 784).prefix(784)
            realLines.append(image.map { String(Float($0) / 127.5 - 1) }.joined(separator: ","))
            noiseLines.append((0 ..< 784).map { _ -> String in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return String(Float(state >> 40) / Float(1 << 23) - 1)
            }.joined(separator: ","))
        }
        try (realLines.joined(separator: "\n") + "\n").write(to: real, atomically: true, encoding: .utf8)
        try (noiseLines.joined(separator: "\n") + "\n").write(to: noise, atomically: true, encoding: .utf8)
    }

    /// gzip through the system's `gzip -dc` (the test target links no zlib).
    static func gunzip(_ data: Data) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let writer = Thread { input.fileHandleForWriting.write(data); try? input.fileHandleForWriting.close() }
        writer.start()
        let result = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return result
    }

    @Test(.enabled(if: installed, "needs Debian's dataset-fashion-mnist"))
    func trainSampleGridAndImageMetrics() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let environment = ["STEPLAB_CACHE": folder.appendingPathComponent("cache").path]
        let run = folder.appendingPathComponent("run")
        let train = try CommandLineTests.run(["train", "--method", "diffusion", "--data", "fashion-mnist", "--out", run.path,
                                              "--iterations", "20", "--batch", "16", "--channels", "8", "--channel-mult", "1,2",
                                              "--log-every", "10", "--device", "0"])
        #expect(train.status == 0, "\(train.err)")
        #expect(train.out.contains("(d = 784)") && train.out.contains("unet 8x[1,2]"))
        // Images default to the U-Net recipe's optimisation: lr 1e-3 (diffusion's 2e-3 elsewhere) and gradient clipping at 1.
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as? [String: Any]
        #expect((config?["learningRate"] as? Double).map { abs($0 - 1e-3) < 1e-9 } == true)
        #expect((config?["maxGradientNorm"] as? Double) == 1)
        let grid = folder.appendingPathComponent("grid.png")
        let sample = try CommandLineTests.run(["sample", "--run", run.path, "--count", "12", "--steps", "4", "--out",
                                               folder.appendingPathComponent("s.npy").path, "--plot", grid.path, "--device", "0"])
        #expect(sample.status == 0, "\(sample.err)")
        let png = try Data(contentsOf: grid)
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        // IHDR: 10 columns x 2 rows of 28x28 images at scale 2 with 2-pixel gaps: 582 x 118.
        #expect(png[16 ..< 24] == Data([0, 0, 0x02, 0x46, 0, 0, 0, 0x76]))

        let real = folder.appendingPathComponent("real.csv"), noise = folder.appendingPathComponent("noise.csv")
        try Self.writeImages(count: 300, real: real, noise: noise)
        func evaluate(_ samples: URL) throws -> [String: Any] {
            let eval = try CommandLineTests.run(["eval", "--samples", samples.path, "--reference", "fashion-mnist", "--json", "--device", "0"],
                                                environment: environment)
            #expect(eval.status == 0, "\(eval.err)")
            return try #require(JSONSerialization.jsonObject(with: Data(eval.out.utf8)) as? [String: Any])
        }
        let realReport = try evaluate(real), noiseReport = try evaluate(noise)
        let accuracy = try #require(realReport["classifier_test_accuracy"] as? Double)
        #expect(accuracy > 0.85, "classifier accuracy \(accuracy)")  // measured 0.8914
        func fd(_ report: [String: Any]) -> Double { ((report["samples"] as? [String: Any])?["frechet_distance"] as? Double) ?? .nan }
        func covered(_ report: [String: Any]) -> Int {
            (((report["samples"] as? [String: Any])?["coverage"] as? [String: Any])?["covered_classes"] as? Int) ?? -1
        }
        // Test images score near the noise floor (training images); noise images are far off.
        let floor = ((realReport["noise_floor"] as? [String: Any])?["frechet_distance"] as? Double) ?? .nan
        #expect(fd(realReport) < 3 * floor, "FD \(fd(realReport)), floor \(floor)")
        #expect(fd(noiseReport) > 20 * fd(realReport), "noise FD \(fd(noiseReport)), real FD \(fd(realReport))")
        #expect(covered(realReport) == 10)
        // The classifier is cached: a second evaluation gives the same numbers without retraining.
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("cache").path))
        #expect(fd(try evaluate(real)) == fd(realReport))
    }
}
