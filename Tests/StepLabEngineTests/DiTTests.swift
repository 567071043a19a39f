import Foundation
import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// The DiT and the ops it added (patches, per-token LayerNorm modulated per image) against their float64 twins and
/// central differences, on a DiT small enough for a debug build: 4x6 images of two channels in 2x2 patches (6
/// tokens), width 8 with two heads, two blocks, network-input rows wider than the image.
@Suite struct DiTTests {
    static let config = DiTConfig(shape: DiTShape(height: 4, width: 6, imageChannels: 2, patch: 2, heads: 2), inputs: 4 * 6 * 2 + 3,
                                  width: 8, blocks: 2, frequencies: 2, timeScale: 3)

    @Test(arguments: [(1, 2, 2, 1, 1, 0), (3, 4, 6, 2, 2, 5), (2, 3, 9, 1, 3, 1)])
    func patchesMatchTheirReference(samples: Int, height: Int, width: Int, channels: Int, patch: Int, extra: Int) throws {
        try SharedEngine.withEngine { engine in
            let g = PatchGeometry(height: height, width: width, channels: channels, patch: patch)
            var random = TestRandom(seed: UInt64(samples * 100 + width))
            let stride = g.imageSize + extra
            let imagesValues = random.array(samples * stride)
            let tokens = try engine.tensor(rows: samples * g.tokens, columns: g.tokenSize)
            try engine.splitPatches(engine.tensor(imagesValues, rows: samples, columns: stride), geometry: g, into: tokens)
            let expected = Reference.splitPatches(imagesValues.map(Double.init), stride: stride, geometry: g)
            #expect(try tokens.download() == expected.map(Float.init))
            // join is split's inverse, and adds when asked.
            let start = random.array(samples * g.imageSize)
            let joined = try engine.tensor(start, rows: samples, columns: g.imageSize)
            try engine.joinPatches(tokens, geometry: g, accumulate: true, into: joined)
            let images = (0 ..< samples).flatMap { n in imagesValues[n * stride ..< n * stride + g.imageSize] }
            #expect(try joined.download() == zip(start, images).map { $0 + $1 })
            #expect(Reference.joinPatches(expected, geometry: g) == images.map(Double.init))
        }
    }

    /// LayerNorm over each token with its image's FiLM row: forward, backward (the modulation gradient summed over the
    /// tokens) and tangent against the twin with the rows tiled. One image of 7 tokens is one row read by every sample,
    /// as a pass with shared times has it (read at row stride 0).
    @Test(arguments: [(1, 1, 3), (2, 3, 5), (3, 4, 2), (1, 7, 4)])
    func tokenNormSharingAModulationRowMatchesTheReference(samples: Int, tokens: Int, channels: Int) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(samples * 10 + tokens))
            let rows = samples * tokens, width = 2 * channels + 3, column = 2
            let xv = random.array(rows * channels, -2, 2), cv = random.array(samples * width), probe = random.array(rows * channels)
            let txv = random.array(rows * channels), tcv = random.array(samples * width)
            let x = try engine.tensor(xv, rows: rows, columns: channels), y = try engine.tensor(rows: rows, columns: channels)
            let stats = try engine.tensor(rows: rows, columns: 2), conditioning = try engine.tensor(cv, rows: samples, columns: width)
            let modulation = Modulation(values: conditioning, column: column, sharedBy: tokens)
            try engine.groupNorm(x, pixels: 1, groups: 1, modulation: modulation, activation: .silu, into: y, stats: stats)
            func tiled(_ c: [Double], _ offset: Int) -> [Double] {
                var out: [Double] = []
                for r in 0 ..< rows {
                    let start = (r / tokens) * width + column + offset
                    out += c[start ..< start + channels]
                }
                return out
            }
            func reference(_ x: [Double], _ c: [Double]) -> [Double] {
                Reference.layerNorm(x, rows: rows, columns: channels, scale: tiled(c, 0), shift: tiled(c, channels), activation: .silu).y
            }
            let (xd, cd) = (xv.map(Double.init), cv.map(Double.init))
            expectClose(try y.download(), reference(xd, cd).map(Float.init), rtol: 1e-5, atol: 1e-5, "forward")

            let dx = try engine.tensor(rows: rows, columns: channels), dmod = try engine.tensor(filled: 7, rows: samples, columns: width)
            try engine.groupNormBackward(engine.tensor(probe, rows: rows, columns: channels), input: x, pixels: 1, groups: 1, stats: stats,
                                         modulation: modulation, modulationGradient: dmod, activation: .silu, into: dx)
            let loss = { (x: [Double], c: [Double]) in LayerGradientTests.probed(reference(x, c), probe) }
            expectClose(try dx.download(), centralDifferences(at: xd) { loss($0, cd) }, rtol: 1e-3, atol: 1e-5, "dx")
            let numeric = centralDifferences(at: cd) { loss(xd, $0) }, got = try dmod.download()
            for n in 0 ..< samples {
                let slice = n * width + column ..< n * width + column + 2 * channels
                expectClose(Array(got[slice]), Array(numeric[slice]), rtol: 1e-3, atol: 1e-5, "modulation gradient of image \(n)")
                #expect(got[n * width] == 7 && got[n * width + width - 1] == 7, "columns outside the slice are left alone")
            }

            let ty = try engine.tensor(rows: rows, columns: channels)
            try engine.groupNormTangent(x, tangent: engine.tensor(txv, rows: rows, columns: channels), pixels: 1, groups: 1, stats: stats,
                                        modulation: modulation, modulationTangent: engine.tensor(tcv, rows: samples, columns: width),
                                        activation: .silu, into: ty)
            let expected = directionalDerivative { e in reference(TangentTests.moved(xv, txv, e), TangentTests.moved(cv, tcv, e)) }
            expectClose(try ty.download(), expected, rtol: 1e-3, atol: 1e-4, "tangent")
        }
    }

    /// Forward against the twin, three entries of every tensor and the input gradient by central differences, and the
    /// JVP along (ẋ, ṫ): through the CPU variant and the GPU variant's matmul.
    @Test(arguments: [MatmulTuning(variant: .cpu), MatmulTuning(variant: .tiled)])
    func ditMatchesItsReference(tuning: MatmulTuning) throws {
        try SharedEngine.withEngine(tuning: tuning) { engine in
            let config = Self.config
            let network = try DiT(engine: engine, config: config, seed: 5)
            let pass = try NetworkPass(network, engine: engine, batch: 2, seed: 9, bound: 0.5)
            try pass.expectMatchesImageReference(imageColumns: config.shape.dimension) { p, x in
                Reference.ditForward(config, parameters: p, input: x, t: pass.times, batch: pass.batch)
            }
            try TangentTests.checkJVP(network, engine: engine, batch: 2, times: 1, seed: 6) { p, x, t in
                Reference.ditForward(config, parameters: p, input: x, t: t, batch: 2)
            }
        }
    }

    @Test func aNewDiTOutputsZeroAndRefusesShapesItCannotCut() throws {
        try SharedEngine.withEngine { engine in
            let network = try DiT(engine: engine, config: Self.config, seed: 1)
            let output = try network.run(engine.tensor(filled: 0.3, rows: 2, columns: Self.config.inputs),
                                         time: engine.tensor(filled: 0.5, rows: 2, columns: 1), tape: network.makeTape())
            #expect(try output.download().allSatisfy { $0 == 0 })
            var config = Self.config
            config.shape.patch = 4
            #expect(throws: OpenCLError.invalidRequest("dit: 4x6 images do not split into 4x4 patches")) {
                _ = try DiT(engine: engine, config: config, seed: 1)
            }
            config.shape.patch = 2
            config.width = 10
            #expect(throws: OpenCLError.invalidRequest("dit: the width must be a positive multiple of 4 (got 10)")) {
                _ = try DiT(engine: engine, config: config, seed: 1)
            }
        }
    }
}
