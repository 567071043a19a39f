import Foundation
import StepLabTestSupport
import Testing
import StepLabData

@Suite struct NormalizationTests {
    @Test func standardisesEachDimensionAndInvertsBack() throws {
        let points = ToyDataset.twoMoons.points(count: 2000, key: .init(seed: 8))
        let shifted = PointSet(count: points.count, dimension: 2,
                               values: points.values.enumerated().map { $0 % 2 == 0 ? 3 * $1 + 10 : $1 / 4 - 2 })
        let normalization = Normalization(fitting: shifted)
        let standard = try normalization.apply(shifted)
        let moments = columnMoments(standard.values)
        #expect(abs(moments.mean.x) < 1e-5 && abs(moments.mean.y) < 1e-5, "\(moments)")
        #expect(abs(moments.std.x - 1) < 1e-5 && abs(moments.std.y - 1) < 1e-5, "\(moments)")
        expectClose(try normalization.invert(standard).values, shifted.values, rtol: 1e-5, atol: 1e-5)
        let decoded = try JSONDecoder().decode(Normalization.self, from: JSONEncoder().encode(normalization))
        #expect(decoded == normalization)
    }

    @Test func aConstantDimensionIsOnlyShiftedAndDimensionsMustMatch() throws {
        let points = PointSet(count: 3, dimension: 2, values: [5, 1, 5, 2, 5, 3])
        let normalization = Normalization(fitting: points)
        #expect(normalization.mean == [5, 2] && normalization.std[0] == 1)
        #expect(try normalization.apply(points).values.enumerated().allSatisfy { $0 % 2 == 1 || $1 == 0 })
        expectDataError("dimension 3", "dimension 2") { _ = try normalization.apply(PointSet(count: 1, dimension: 3, values: [1, 2, 3])) }
    }
}
