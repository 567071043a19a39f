import Foundation
import Testing

/// Images from an NPY array through the CLI: a U-Net trains on them, `sample --plot` draws a colour grid, `eval`
/// scores them on random convolutional features, and a bad array is refused in one line.
@Suite struct NPYImageCommandTests {
    /// An NPY 1.0 file of uint8 `shape`.
    static func npy(shape: [Int], bytes: [UInt8]) -> Data {
        var header = "{'descr': '|u1', 'fortran_order': False, 'shape': (" + shape.map(String.init).joined(separator: ", ") + "), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        let length = header.utf8.count
        return Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xff), UInt8(length >> 8)] + Array(header.utf8) + bytes)
    }

    /// `count` smooth 8x6 RGB images (a random colour ramp each), or as many images of uniform noise.
    static func images(count: Int, noise: Bool, seed: UInt64) -> [UInt8] {
        var state = seed
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) * 0x1p-53
        }
        var bytes: [UInt8] = []
        for _ in 0 ..< count {
            let colour = (0 ..< 3).map { _ in next() }
            for y in 0 ..< 8 {
                for x in 0 ..< 6 {
                    for k in 0 ..< 3 {
                        let value = noise ? next() : colour[k] * Double(x + y) / 12
                        bytes.append(UInt8(255 * Swift.min(1, value)))
                    }
                }
            }
        }
        return bytes
    }

    @Test func trainSampleAndEvaluateAnImageArray() throws {
        let folder = try TrainSampleEvalTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("images.npy"), noise = folder.appendingPathComponent("noise.npy")
        let fresh = folder.appendingPathComponent("fresh.npy")
        try Self.npy(shape: [200, 8, 6, 3], bytes: Self.images(count: 200, noise: false, seed: 1)).write(to: data)
        try Self.npy(shape: [100, 8, 6, 3], bytes: Self.images(count: 100, noise: false, seed: 3)).write(to: fresh)
        try Self.npy(shape: [100, 8, 6, 3], bytes: Self.images(count: 100, noise: true, seed: 2)).write(to: noise)
        let run = folder.appendingPathComponent("run")
        let train = try CommandLineTests.run(["train", "--method", "diffusion", "--data", data.path, "--out", run.path, "--iterations", "10",
                                              "--batch", "8", "--channels", "8", "--channel-mult", "1,2", "--log-every", "5", "--device", "0"])
        #expect(train.status == 0, "\(train.err)")
        #expect(train.out.contains("(d = 144)") && train.out.contains("unet 8x[1,2]"), "\(train.out)")
        let config = try String(contentsOf: run.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(config.contains("\"channels\" : 3") || config.contains("\"channels\":3"), "\(config)")

        let grid = folder.appendingPathComponent("grid.png")
        let sample = try CommandLineTests.run(["sample", "--run", run.path, "--count", "12", "--steps", "2", "--out",
                                               folder.appendingPathComponent("s.npy").path, "--plot", grid.path, "--device", "0"])
        #expect(sample.status == 0, "\(sample.err)")
        // IHDR: 10 columns of 6-pixel-wide images and 2 rows of 8-pixel-high ones, at scale 2 with 2-pixel gaps: 142 x 38.
        let png = try Data(contentsOf: grid)
        #expect(png[16 ..< 24] == Data([0, 0, 0, 142, 0, 0, 0, 38]))

        func fd(_ samples: URL) throws -> (Double, Double, String) {
            let eval = try CommandLineTests.run(["eval", "--samples", samples.path, "--reference", data.path, "--json", "--device", "0"])
            #expect(eval.status == 0, "\(eval.err)")
            let report = try #require(JSONSerialization.jsonObject(with: Data(eval.out.utf8)) as? [String: Any])
            let value = { (key: String) in ((report[key] as? [String: Any])?["frechet_distance"] as? Double) ?? .nan }
            return (value("samples"), value("noise_floor"), report["features"] as? String ?? "")
        }
        // Fresh images of the same kind score near the floor, noise far above it, on the random features.
        let (real, floor, features) = try fd(fresh)
        let (noisy, _, _) = try fd(noise)
        #expect(features.contains("random convolutional"))
        #expect(real < 3 * floor && noisy > 20 * real, "fresh images \(real), floor \(floor), noise \(noisy)")
        #expect(try fd(folder.appendingPathComponent("s.npy")).0.isFinite)

        let bad = folder.appendingPathComponent("two-channels.npy")
        try Self.npy(shape: [4, 2, 2, 2], bytes: Array(repeating: 0, count: 32)).write(to: bad)
        let refused = try CommandLineTests.run(["train", "--data", bad.path, "--out", folder.appendingPathComponent("bad").path])
        #expect(refused.status != 0 && refused.err.contains("neither 1 nor 3 channels"), "\(refused.err)")
        #expect(refused.err.split(separator: "\n").count == 1, "\(refused.err)")
    }
}
