import Testing
@testable import StepLabGenerative

@Suite struct LearningRateScheduleTests {
    /// The consistency methods tune an initialised model at 2e-4 and learn from scratch at 1e-3; the others do not
    /// depend on --init.
    @Test func consistencyDefaultsFollowInit() {
        for method in [TrainingMethod.ct, .cd, .mct, .mcd] {
            #expect(method.defaultLearningRate(initialised: true) == 2e-4 && method.defaultLearningRate(initialised: false) == 1e-3)
        }
        for method in [TrainingMethod.diffusion, .edm, .ect, .meanflow, .shortcut] {
            #expect(method.defaultLearningRate(initialised: true) == method.defaultLearningRate(initialised: false))
        }
    }

    @Test func constantKeepsTheBaseRate() {
        #expect((0 ..< 50).allSatisfy { LearningRateSchedule.constant.rate(base: 3e-4, at: $0) == 3e-4 })
    }

    @Test func warmUpRisesLinearlyThenCosineFallsToZero() {
        let schedule = LearningRateSchedule(decay: .cosine, warmupSteps: 10, totalSteps: 110)
        #expect(schedule.rate(base: 1, at: 0) == 0.1)
        #expect(abs(schedule.rate(base: 1, at: 4) - 0.5) < 1e-6)
        #expect(schedule.rate(base: 1, at: 10) == 1)
        #expect(abs(schedule.rate(base: 1, at: 60) - 0.5) < 1e-6)
        #expect(schedule.rate(base: 1, at: 110) == 0)
        let decaying = (10 ..< 110).map { schedule.rate(base: 1, at: $0) }
        #expect(zip(decaying, decaying.dropFirst()).allSatisfy { $0 > $1 })
    }
}
