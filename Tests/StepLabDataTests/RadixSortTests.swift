import StepLabTestSupport
import Testing
@testable import StepLabData

/// The radix sort against a stable comparison sort: the same order, ties (and -0 beside +0) kept in input order.
@Suite struct RadixSortTests {
    static func comparisonOrder(_ values: [Double]) -> [Int32] {
        values.indices.sorted { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }.map(Int32.init)
    }

    @Test(arguments: [0, 1, 2, 7, 257, 5000])
    func theOrderIsAStableComparisonSorts(count: Int) {
        var random = TestRandom(seed: UInt64(count + 1))
        // Wide magnitudes of both signs, repeated values, both zeros and both infinities.
        var values = (0 ..< count).map { i -> Double in
            let scale = Double(sign: .plus, exponent: Int(random.uniform(-30, 30)), significand: 1)
            return Double(random.uniform(-1, 1)) * scale + (i % 5 == 0 ? 1 : 0)
        }
        let specials: [Double] = [0, -0.0, 0, .infinity, -.infinity, 1, 1, -1, .leastNonzeroMagnitude, -.leastNonzeroMagnitude]
        for (i, special) in specials.enumerated() where count > 2 * specials.count { values[(i * 37) % count] = special }
        let order = RadixSort.order(values)
        #expect(order == Self.comparisonOrder(values))
        #expect(RadixSort.sorted(values).map(\.bitPattern) == order.map { values[Int($0)].bitPattern })
    }

    /// Keys order as the values do, -0 and +0 alike.
    @Test func keysOrderLikeTheValues() {
        let ascending: [Double] = [-.infinity, -1e300, -2, -1, -.leastNonzeroMagnitude, 0, .leastNonzeroMagnitude, 1, 2, 1e300, .infinity]
        let keys = ascending.map(RadixSort.key)
        #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 < $1 })
        #expect(RadixSort.key(-0.0) == RadixSort.key(0))
    }
}
