/// The closure an `Event.onCompletion` hands to OpenCL, boxed so it can travel as the callback's user data.
final class CompletionCallback: @unchecked Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}
