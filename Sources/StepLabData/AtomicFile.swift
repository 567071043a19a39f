import Foundation

/// Writes whole files atomically: a temporary sibling, flushed to disk, then a rename over the target. A reader,
/// a crash or a full disk leaves either the old file or the whole new one, and never the temporary file.
public enum AtomicFile {
    /// One line naming the target file and the system's reason (e.g. "No space left on device").
    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func write(_ data: Data, to url: URL) throws(WriteError) {
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        func failure(_ code: Int32) -> WriteError {
            WriteError(description: "cannot write \(url.path): \(String(cString: strerror(code)))")
        }
        // POSIX calls rather than Data.write, whose errors on Linux lose the errno ("error 512").
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw failure(errno) }
        var code = writeAll(data, to: descriptor)
        // Without the fsync a crash after the rename can leave an empty file in place of the old one.
        if code == 0 && fsync(descriptor) != 0 { code = errno }
        if close(descriptor) != 0 && code == 0 { code = errno }
        if code == 0 && rename(temporary.path, url.path) != 0 { code = errno }
        if code != 0 {
            unlink(temporary.path)
            throw failure(code)
        }
    }
}

/// Writes all of `data` (write(2) may take it in parts); 0, or the errno of the failed call.
private func writeAll(_ data: Data, to descriptor: Int32) -> Int32 {
    data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Int32 in
        var offset = 0
        while offset < buffer.count {
            let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return 0
    }
}
