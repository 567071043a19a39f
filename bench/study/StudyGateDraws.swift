import StepLabData
import StepLabEngine
import StepLabGenerative

extension Study {
    /// Noise draws per seed behind the teacher gate, the table's own included.
    static let gateDraws = 4
    /// The intervals' names for the gate's two means over draws.
    static let gateTeacher = "teacher gate: diffusion S=64 ddim-64", gateFloor = "teacher gate: noise floor"

    /// The teacher gate's Monte Carlo for one seed: 64-step DDIM from `gateDraws - 1` further noise draws, and as many
    /// further floor samples, each scored against the seed's reference with its resamples, then averaged with the
    /// table's draw. One noise draw's luck is not the teacher's: every model of a seed samples the same noise, so the
    /// paired comparisons cancel it, but the gate compares the teacher with the floor, which cannot.
    func recordGateDraws(seed: Int, teacher: VPSampler, parameters: Tensor?, clip: Float, bootstrap: SlicedWassersteinBootstrap) throws {
        let teacherName = StudyFamily.teacherConfiguration
        guard let firstTeacher = intervals.measured[teacherName]?[seed], let firstFloor = intervals.measured["noise floor"]?[seed] else { return }
        var teacherDraws = [firstTeacher], floorDraws = [firstFloor]
        let noise = try engine.tensor(rows: settings.samples, columns: spec.dimension)
        for draw in 1 ..< Self.gateDraws {
            let key = UInt64(seed * Self.gateDraws + draw)
            try engine.normal(into: noise, key: RandomKey(seed: key, stream: .studyGateNoise))
            let samples = try teacher.sample(noise: noise, steps: 64, parameters: parameters, clip: clip)
            teacherDraws.append(bootstrap.distances(try dataUnits(samples)))
            floorDraws.append(bootstrap.distances(spec.referencePoints(count: settings.samples, seed: 40_000 + key)))
        }
        intervals.record(Self.gateTeacher, seed: seed, draws: teacherDraws)
        intervals.record(Self.gateFloor, seed: seed, draws: floorDraws)
    }
}
