import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// GroupNorm (with FiLM, activation and accumulation) against its float64 twin, and the twin's backward against
/// central differences.
@Suite struct GroupNormTests {
    /// Both variants (a work-item or a work-group per sample); 100 and 300 channels take the work-group kernels' two
    /// ways of splitting a sample (pixel slices of one channel, or several channels per work-item); 24 channels in 6
    /// groups put 2 groups in each of the per-sample kernels' 8-wide vectors, 6 and 100 channels take its 1- and 4-wide.
    @Test(arguments: GroupNormVariant.allCases,
          [(1, 1, 1, 1), (2, 5, 6, 3), (3, 7, 4, 1), (1, 1, 17, 1), (2, 49, 64, 8), (2, 5, 24, 6), (1, 9, 6, 6), (2, 7, 100, 4), (2, 3, 300, 3)])
    func groupNormMatchesItsReference(variant: GroupNormVariant, shape: (Int, Int, Int, Int)) throws {
        let (samples, pixels, channels, groups) = shape
        try SharedEngine.withEngine(groupNorm: variant) { engine in
            for (modulated, activation) in [(false, Activation.identity), (true, .silu)] {
                var random = TestRandom(seed: UInt64(samples * 1000 + pixels * 10 + channels))
                let count = samples * pixels * channels
                let xv = random.array(count, -3, 3), dyv = random.array(count), dxv = random.array(count)
                // The modulation sits at column 3 of a wider conditioning matrix, as a middle norm's would.
                let width = 2 * channels + 5
                let cv = random.array(samples * width)
                let scale = (0 ..< samples * channels).map { Double(cv[($0 / channels) * width + 3 + $0 % channels]) }
                let shift = (0 ..< samples * channels).map { Double(cv[($0 / channels) * width + 3 + channels + $0 % channels]) }
                let x = try engine.tensor(xv, rows: samples * pixels, columns: channels)
                let y = try engine.tensor(rows: samples * pixels, columns: channels)
                let stats = try engine.tensor(rows: samples, columns: 2 * groups)
                let conditioning = try engine.tensor(cv, rows: samples, columns: width)
                let modulation = modulated ? Modulation(values: conditioning, column: 3) : nil
                try engine.groupNorm(x, pixels: pixels, groups: groups, modulation: modulation, activation: activation, into: y, stats: stats)
                let xd = xv.map(Double.init)
                let expected = Reference.groupNorm(xd, pixels: pixels, channels: channels, groups: groups, scale: modulated ? scale : nil,
                                                   shift: modulated ? shift : nil, activation: activation)
                expectClose(try y.download(), expected.y.map(Float.init), rtol: 2e-5, atol: 2e-5, "forward \(activation)")

                let dy = try engine.tensor(dyv, rows: x.rows, columns: channels), dx = try engine.tensor(dxv, rows: x.rows, columns: channels)
                let dmod = try engine.tensor(filled: 7, rows: samples, columns: width)
                try engine.groupNormBackward(dy, input: x, pixels: pixels, groups: groups, stats: stats, modulation: modulation,
                                             modulationGradient: dmod, activation: activation, accumulate: modulated, into: dx)
                let back = Reference.groupNormBackward(dyv.map(Double.init), xd, pixels: pixels, channels: channels, groups: groups,
                                                       scale: modulated ? scale : nil, shift: modulated ? shift : nil, activation: activation)
                // Added to what dx held (the modulated case), or written over it (the per-sample kernels then keep dL/dm there between their passes).
                expectClose(try dx.download(), zip(dxv, back.dx).map { Float((modulated ? Double($0) : 0) + $1) }, rtol: 1e-4, atol: 1e-4, "dx")
                if modulated {
                    let got = try dmod.download()
                    let dscale = (0 ..< samples * channels).map { got[($0 / channels) * width + 3 + $0 % channels] }
                    let dshift = (0 ..< samples * channels).map { got[($0 / channels) * width + 3 + channels + $0 % channels] }
                    expectClose(dscale, back.dscale.map(Float.init), rtol: 1e-4, atol: 1e-4, "dscale")
                    expectClose(dshift, back.dshift.map(Float.init), rtol: 1e-4, atol: 1e-4, "dshift")
                    #expect((0 ..< samples).allSatisfy { got[$0 * width] == 7 && got[$0 * width + width - 1] == 7 })
                }
            }
        }
    }

    /// The variant follows the device type (this suite's CPU: one work-item per sample) unless STEPLAB_GROUPNORM names one.
    @Test func theVariantFollowsTheDeviceUnlessTheEnvironmentNamesOne() throws {
        try SharedEngine.withEngine { engine in
            let byDevice = try Engine(context: engine.context, environment: [:]).groupNormVariant
            let named = try Engine(context: engine.context, environment: ["STEPLAB_GROUPNORM": "workGroup"]).groupNormVariant
            #expect(byDevice == (engine.device.kind == .gpu ? GroupNormVariant.workGroup : .perSample))
            #expect(named == .workGroup)
            #expect(throws: OpenCLError.invalidRequest("STEPLAB_GROUPNORM must be perSample or workGroup, got 'gpu'")) {
                _ = try Engine(context: engine.context, environment: ["STEPLAB_GROUPNORM": "gpu"])
            }
        }
    }

    @Test func groupNormReferenceBackwardIsTheGradient() {
        let (samples, pixels, channels, groups) = (2, 3, 4, 2)
        var random = TestRandom(seed: 43)
        let count = samples * pixels * channels
        let x = random.array(count, -2, 2).map(Double.init), probe = random.array(count)
        let scale = random.array(samples * channels).map(Double.init), shift = random.array(samples * channels).map(Double.init)
        let back = Reference.groupNormBackward(probe.map(Double.init), x, pixels: pixels, channels: channels, groups: groups,
                                               scale: scale, shift: shift, activation: .silu)
        func loss(_ x: [Double], _ s: [Double], _ b: [Double]) -> Double {
            LayerGradientTests.probed(Reference.groupNorm(x, pixels: pixels, channels: channels, groups: groups, scale: s, shift: b,
                                                          activation: .silu).y, probe)
        }
        expectClose(back.dx.map(Float.init), centralDifferences(at: x) { loss($0, scale, shift) }, rtol: 1e-4, atol: 1e-6, "dx")
        expectClose(back.dscale.map(Float.init), centralDifferences(at: scale) { loss(x, $0, shift) }, rtol: 1e-4, atol: 1e-6, "dscale")
        expectClose(back.dshift.map(Float.init), centralDifferences(at: shift) { loss(x, scale, $0) }, rtol: 1e-4, atol: 1e-6, "dshift")
    }
}
