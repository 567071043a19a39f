import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// The device's minibatch draws against the rows their twin picks, on awkward sizes, labelled and not, and a shard
/// that draws exactly its rows of the whole batch.
@Suite struct BatchGatherTests {
    @Test(arguments: [(1, 1, 1), (7, 5, 3), (1000, 33, 2), (3, 64, 1)])
    func gathersTakeTheRowsTheTwinPicks(count: Int, rows: Int, columns: Int) throws {
        try SharedEngine.withEngine { engine in
            var random = TestRandom(seed: UInt64(count + rows))
            let values = random.array(count * columns), labels = (0 ..< count).map { Int32($0 * 7 % 10) }
            let data = try engine.tensor(values, rows: count, columns: columns)
            let key = RandomKey(seed: 9, stream: 3, counter: 11)
            let picked = Reference.randomRows(rows, from: count, key: key)
            let expected = picked.flatMap { values[$0 * columns ..< ($0 + 1) * columns] }
            let batch = try engine.tensor(rows: rows, columns: columns)
            try engine.gatherRandomRows(data, key: key, into: batch)
            #expect(try batch.download() == expected)

            let labelled = try engine.tensor(rows: rows, columns: columns)
            let batchLabels = try engine.context.buffer([Int32](repeating: -1, count: rows + 2))
            try engine.gatherRandomRows(data, labels: engine.context.buffer(labels), key: key, into: labelled, labels: batchLabels)
            #expect(try labelled.download() == expected)
            #expect(try batchLabels.download() == picked.map { labels[$0] } + [-1, -1], "labels of the drawn rows, nothing past the batch")
            if count > 1 { #expect(Set(picked).count > 1 || rows == 1, "the rows are drawn, not one row repeated") }
        }
    }

    @Test func aShardDrawsItsRowsOfTheWholeBatch() throws {
        try SharedEngine.withEngine { engine in
            let data = try engine.tensor((0 ..< 50).map(Float.init), rows: 50, columns: 1)
            let key = RandomKey(seed: 2, stream: 5, counter: 1)
            let whole = try engine.tensor(rows: 12, columns: 1), shard = try engine.tensor(rows: 4, columns: 1)
            try engine.gatherRandomRows(data, key: key, into: whole)
            try engine.gatherRandomRows(data, key: key.starting(atBlock: 5), into: shard)
            #expect(try shard.download() == Array(try whole.download()[5 ..< 9]))
        }
    }

    @Test func badShapesAreRefused() throws {
        try SharedEngine.withEngine { engine in
            let data = try engine.tensor(rows: 4, columns: 3)
            #expect(throws: OpenCLError.self) { try engine.gatherRandomRows(data, key: RandomKey(seed: 1), into: engine.tensor(rows: 2, columns: 2)) }
            #expect(throws: OpenCLError.self) {
                try engine.gatherRandomRows(data, labels: engine.context.buffer([Int32](repeating: 0, count: 3)), key: RandomKey(seed: 1),
                                            into: engine.tensor(rows: 2, columns: 3), labels: engine.context.buffer([Int32(0), 0]))
            }
        }
    }
}
