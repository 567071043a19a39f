import Foundation

/// The system's reason for a failed file operation ("Not a directory", "File too large"): on Linux, Foundation's
/// own description of its file errors is often just "(NSCocoaErrorDomain error 512.)".
func fileErrorReason(_ error: Error) -> String {
    let error = error as NSError
    if error.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(error.code))) }
    if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    return error.localizedDescription
}
