import Foundation

/// Wall-clock seconds per call of `body`, after `warmup` calls, repeating until `minSeconds` have passed
/// (at least `minRepeats` calls). `body` must include whatever synchronisation makes its work complete.
func secondsPerCall(warmup: Int = 2, minSeconds: Double = 0.5, minRepeats: Int = 3, _ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<warmup { try body() }
    var repeats = 0
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed = 0.0
    while repeats < minRepeats || elapsed < minSeconds {
        try body()
        repeats += 1
        elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }
    return elapsed / Double(repeats)
}
