import Foundation
import Testing
@testable import bench

/// How many bodies run at once, and the most that ever did.
private final class Occupancy: @unchecked Sendable {
    private let lock = NSLock()
    private var now = 0
    private(set) var most = 0

    func enter() { lock.withLock { now += 1; most = Swift.max(most, now) } }
    func leave() { lock.withLock { now -= 1 } }
}

private struct Failure: Error, Equatable { let index: Int }

@Suite struct SideBySideTests {
    @Test func resultsComeBackInIndexOrderWithNoMoreThanTheWidthAtOnce() throws {
        let occupancy = Occupancy()
        // Later indices finish first, so an order taken from completion would come back reversed.
        let squares = try sideBySide(5, width: 2) { index in
            occupancy.enter()
            defer { occupancy.leave() }
            Thread.sleep(forTimeInterval: 0.02 * Double(5 - index))
            return index * index
        }
        #expect(squares == [0, 1, 4, 9, 16])
        #expect(occupancy.most == 2)
    }

    @Test func widthOneRunsOneAtATime() throws {
        let occupancy = Occupancy()
        _ = try sideBySide(3, width: 1) { _ in
            occupancy.enter()
            defer { occupancy.leave() }
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(occupancy.most == 1)
    }

    @Test func theLowestFailingIndexsErrorIsRethrownAfterEveryBodyHasRun() {
        let occupancy = Occupancy()
        #expect(throws: Failure(index: 1)) {
            _ = try sideBySide(4, width: 4) { index in
                occupancy.enter()
                // Index 3 fails first in time; index 1's error is the one reported.
                Thread.sleep(forTimeInterval: index == 3 ? 0 : 0.03)
                if index % 2 == 1 { throw Failure(index: index) }
                return index
            }
        }
        #expect(occupancy.most == 4)
    }
}
