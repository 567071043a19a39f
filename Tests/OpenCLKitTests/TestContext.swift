import OpenCLKit

/// One context per test process for the suites that share it; suites using it are `.serialized`.
enum TestContext {
    static let shared: Context = {
        do { return try Context() } catch { fatalError("no OpenCL device for tests: \(error)") }
    }()
}
