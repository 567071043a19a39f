/// A data file, data set or metric request that cannot be honoured, as one line that names the file and,
/// where there is one, the line or row.
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The whole message.
    public let message: String

    /// An error with `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
