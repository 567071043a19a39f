import Foundation
import StepLabData

/// Writes JSON through a temporary file and a rename (`AtomicFile`), so a failed run never leaves half a file.
enum JSONOutput {
    static func write<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // A configuration whose every seed diverged has no mean: written as "nan" rather than failing the run.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            try AtomicFile.write(encoder.encode(value), to: URL(fileURLWithPath: path))
        } catch {
            throw RuntimeError("cannot write \(path): \(error)")
        }
    }
}
