import Foundation
import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// The whole U-Net against its float64 reference and central differences, on a configuration small enough for a
/// debug build: two levels (so a downsample, an upsample and both kinds of skip), a 1x1 skip convolution, two image
/// channels and network-input rows wider than the image; and with two-head attention in the middle.
@Suite struct UNetTests {
    static let config = UNetConfig(shape: UNetShape(height: 4, width: 4, imageChannels: 2, channels: 2, channelMult: [1, 2],
                                                    blocksPerLevel: 1, groups: 2),
                                   inputs: 4 * 4 * 2 + 3, frequencies: 2, timeScale: 3)
    static var attentionConfig: UNetConfig {
        var config = Self.config
        config.shape.attentionHeads = 2
        return config
    }

    @Test(arguments: [(MatmulTuning(variant: .cpu), false), (MatmulTuning(variant: .tiled), false), (MatmulTuning(variant: .cpu), true)])
    func unetGradientsMatchFiniteDifferences(tuning: MatmulTuning, attention: Bool) throws {
        try SharedEngine.withEngine(tuning: tuning) { engine in
            let config = attention ? Self.attentionConfig : Self.config
            let network = try UNet(engine: engine, config: config, seed: 5)
            let pass = try NetworkPass(network, engine: engine, batch: 2, seed: 9, bound: 0.5)
            try pass.expectMatchesImageReference(imageColumns: config.shape.dimension) { p, x in
                Reference.unetForward(config, parameters: p, input: x, t: pass.times, batch: pass.batch)
            }
        }
    }

    @Test func aNewUNetOutputsZeroAndNamesItsTensorsByLayer() throws {
        try SharedEngine.withEngine { engine in
            let network = try UNet(engine: engine, config: Self.attentionConfig, seed: 1)
            let names = Set(network.parameters.entries.map(\.name))
            for name in ["time.2.weight", "input.weight", "down.0.0.conv1.weight", "down.0.downsample.bias", "down.1.0.skip.weight",
                         "middle.1.conv2.bias", "middle.attention.qkv.weight", "middle.attention.output.bias", "up.1.0.skip.weight",
                         "up.0.0.conv1.weight", "output.weight"] {
                #expect(names.contains(name), "\(name)")
            }
            let input = try engine.tensor(filled: 0.3, rows: 3, columns: Self.config.inputs)
            let out = try network.run(input, time: engine.tensor(filled: 0.5, rows: 3, columns: 1), tape: network.makeTape())
            #expect(try out.download().allSatisfy { $0 == 0 })
        }
    }

    @Test func shapesThatCannotBeBuiltAreRefused() {
        #expect(UNetShape(height: 28, width: 28, imageChannels: 1).problem == nil)
        #expect(UNetShape(height: 28, width: 28, imageChannels: 1, channelMult: [1, 2, 2, 2]).problem != nil)
        #expect(UNetShape(height: 28, width: 28, imageChannels: 1, channels: 12, groups: 8).problem != nil)
        #expect(UNetShape(height: 28, width: 28, imageChannels: 1, attentionHeads: 2).problem == nil)
        #expect(UNetShape(height: 28, width: 28, imageChannels: 1, attentionHeads: 3).problem != nil)
        #expect(UNetShape.channelMult(parsing: "1,2,x") == nil)
        // A config.json written before attention existed reads as no attention.
        let old = #"{"height":4,"width":4,"imageChannels":1,"channels":8,"channelMult":[1,2],"blocksPerLevel":1,"groups":4}"#
        #expect((try? JSONDecoder().decode(UNetShape.self, from: Data(old.utf8)))?.attentionHeads == 0)
        #expect(UNetShape.channelMult(parsing: "1, 2,4") == [1, 2, 4])
    }
}
