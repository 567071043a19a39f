import ArgumentParser

/// A user-facing failure: printed as one line `Error: ...` by ArgumentParser, exit code 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
