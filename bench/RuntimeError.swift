/// A failure while running a benchmark: printed as one line, exit code 1 (not a usage error).
struct RuntimeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
