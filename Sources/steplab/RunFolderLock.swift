import Foundation

/// An exclusive advisory lock (flock) on the run folder itself, held by the one process that writes it. It adds no
/// file to the folder, and the kernel drops it when that process ends, however it ends, so a killed run never leaves
/// a stale lock behind.
struct RunFolderLock {
    let descriptor: Int32

    func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

extension RunFolder {
    /// Takes the folder's writer lock, or fails with one line when another process holds it.
    func lockForWriting() throws -> RunFolderLock {
        let descriptor = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw CLIError("cannot lock \(url.path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw CLIError("\(url.path) is being written by another steplab process (another training job, or a second rank 0); "
                           + "wait for it to finish or choose another --out")
        }
        return RunFolderLock(descriptor: descriptor)
    }
}
