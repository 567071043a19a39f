import Foundation
import StepLabEngine
import Testing
@testable import StepLabGenerative

@Suite struct TrajectoryGeometryTests {
    @Test func pathOverChordIsOneOnStraightLinesAndMoreOnCurves() {
        let line = (0 ... 50).map { k -> [Double] in let u = Double(k) / 50; return [1 + 2 * u, -3 * u, 0.5 * u] }
        #expect(abs(TrajectoryGeometry.pathOverChord(line) - 1) < 1e-12)
        // A half circle: arc pi r over diameter 2 r.
        let half = (0 ... 2000).map { k -> [Double] in let a = Double.pi * Double(k) / 2000; return [cos(a), sin(a)] }
        #expect(abs(TrajectoryGeometry.pathOverChord(half) - Double.pi / 2) < 1e-5)
        // A quarter circle: (pi / 2) r over sqrt(2) r.
        let quarter = (0 ... 2000).map { k -> [Double] in let a = Double.pi / 2 * Double(k) / 2000; return [cos(a), sin(a)] }
        #expect(abs(TrajectoryGeometry.pathOverChord(quarter) - Double.pi / (2 * 2.0.squareRoot())) < 1e-5)
    }

    @Test func exactMapMatchesTheClosedFormOnASingleGaussian() {
        // For x ~ N(mu, s^2) the flow keeps (z_t - alpha_t mu) / sd_t fixed, so x = mu + s (z_1 - alpha_1 mu) / sd_1
        // (at t = 0, sd_0 = sqrt(alpha_0^2 s^2 + sigma_0^2) differs from s by sigma_0; the map's end is E[x | z_0]).
        let mu = [1.5, -0.5], s = [0.5, 0.2]
        let a1 = NoiseSchedule.alpha(1), sg1 = NoiseSchedule.sigma(1)
        let a0 = NoiseSchedule.alpha(0), sg0 = NoiseSchedule.sigma(0)
        for z1 in [[-1.0, 0.3], [0.0, 0.0], [2.0, -1.7]] {
            let mapped = TrajectoryGeometry.exactMap(z1, means: [mu], stds: s, steps: 2048)
            for j in 0 ..< 2 {
                let sd1 = (a1 * a1 * s[j] * s[j] + sg1 * sg1).squareRoot(), sd0 = (a0 * a0 * s[j] * s[j] + sg0 * sg0).squareRoot()
                let z0 = a0 * mu[j] + sd0 * (z1[j] - a1 * mu[j]) / sd1
                let expected = mu[j] + a0 * s[j] * s[j] * (z0 - a0 * mu[j]) / (sd0 * sd0)
                #expect(abs(mapped[j] - expected) < 1e-5, "dimension \(j): \(mapped[j]) vs \(expected)")
            }
        }
    }

    @Test func exactEDMMapMatchesTheClosedFormOnASingleGaussian() {
        // For x ~ N(mu, s^2) the EDM flow keeps (x_sigma - mu) / sqrt(s^2 + sigma^2) fixed; the map ends at D(x; sigma_min).
        let mu = [1.5, -0.5], s = [0.5, 0.2], sigmaMax = 80.0, sigmaMin = 0.002
        for start in [[-40.0, 12.0], [0.0, 0.0], [90.0, -70.0]] {
            let mapped = TrajectoryGeometry.exactEDMMap(start, sigmaMax: sigmaMax, sigmaMin: sigmaMin, means: [mu], stds: s, steps: 1024)
            for j in 0 ..< 2 {
                let atMin = mu[j] + (s[j] * s[j] + sigmaMin * sigmaMin).squareRoot() * (start[j] - mu[j]) / (s[j] * s[j] + sigmaMax * sigmaMax).squareRoot()
                let expected = mu[j] + s[j] * s[j] * (atMin - mu[j]) / (s[j] * s[j] + sigmaMin * sigmaMin)
                #expect(abs(mapped[j] - expected) < 1e-5, "dimension \(j): \(mapped[j]) vs \(expected)")
            }
        }
    }
}
