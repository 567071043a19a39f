import Foundation
import OpenCLKit
import Testing
import StepLabEngine

/// One engine for the whole test process. OpenCL kernel objects carry argument state, so every test that
/// uses it runs under one lock; POCL already spreads each kernel over all cores.
public enum SharedEngine {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var engine: Engine?

    public static func withEngine<R>(_ body: (Engine) throws -> R) throws -> R {
        lock.lock()
        defer { lock.unlock() }
        if engine == nil { engine = try Engine() }
        return try body(engine!)
    }

    /// The shared engine with its GroupNorm kernels forced to `variant` for the body.
    public static func withEngine<R>(groupNorm variant: GroupNormVariant, _ body: (Engine) throws -> R) throws -> R {
        try withEngine(setting: \.groupNormVariant, to: variant, body)
    }

    /// The shared engine with its attention forward forced to `variant` for the body.
    public static func withEngine<R>(attention variant: AttentionVariant, _ body: (Engine) throws -> R) throws -> R {
        try withEngine(setting: \.attentionVariant, to: variant, body)
    }

    /// `withEngine` with the matmul kernel and tunables set to `tuning` for `body`, restored afterwards.
    public static func withEngine<R>(tuning: MatmulTuning, _ body: (Engine) throws -> R) throws -> R {
        try withEngine(setting: \.matmulTuning, to: tuning, body)
    }

    /// The shared engine with one of its settings set to `value` for the body, and restored after it.
    private static func withEngine<V, R>(setting keyPath: ReferenceWritableKeyPath<Engine, V>, to value: V,
                                         _ body: (Engine) throws -> R) throws -> R {
        try withEngine { engine in
            let saved = engine[keyPath: keyPath]
            defer { engine[keyPath: keyPath] = saved }
            engine[keyPath: keyPath] = value
            return try body(engine)
        }
    }
}

/// Deterministic test data: a small LCG, so failures reproduce.
public struct TestRandom {
    var state: UInt64
    public init(seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }
    public mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 11
    }
    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        lo + (hi - lo) * Float(Double(next()) / Double(1 << 53))
    }
    public mutating func array(_ count: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<count).map { _ in uniform(lo, hi) }
    }
}

/// The largest violation of |a - b| <= atol + rtol * |b|, as a ratio (<= 1 passes), with its index.
public func worstMismatch(_ actual: [Float], _ expected: [Float], rtol: Float, atol: Float) -> (ratio: Float, index: Int) {
    precondition(actual.count == expected.count, "length \(actual.count) vs \(expected.count)")
    var worst: (Float, Int) = (0, -1)
    for i in actual.indices {
        let allowed = atol + rtol * abs(expected[i])
        let ratio = actual[i].isFinite ? abs(actual[i] - expected[i]) / allowed : .infinity
        if ratio > worst.0 { worst = (ratio, i) }
    }
    return worst
}

/// Expects `actual` to match `expected` elementwise within `atol + rtol * |expected|`.
public func expectClose(_ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
                 _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    let (ratio, index) = worstMismatch(actual, expected, rtol: rtol, atol: atol)
    #expect(ratio <= 1, "\(what): element \(index) is \(index >= 0 ? actual[index] : 0), expected \(index >= 0 ? expected[index] : 0) (rtol \(rtol), atol \(atol))",
            sourceLocation: sourceLocation)
}

/// d f / d point[i] by central differences with step 1e-5 (error ~1e-10 for a float64 f): the finite-difference
/// side of every gradient check.
public func centralDifferences(at point: [Double], _ f: ([Double]) -> Double) -> [Float] {
    let h = 1e-5
    return point.indices.map { i in
        var plus = point, minus = point
        plus[i] += h; minus[i] -= h
        return Float((f(plus) - f(minus)) / (2 * h))
    }
}

/// d f(ε) / dε at ε = 0 by central differences with step `h`, elementwise: the finite-difference side of every
/// tangent check (f(ε) is the float64 twin evaluated at the point moved by ε along the tangent).
public func directionalDerivative(step h: Double = 1e-5, _ f: (Double) -> [Double]) -> [Float] {
    zip(f(h), f(-h)).map { Float(($0 - $1) / (2 * h)) }
}
