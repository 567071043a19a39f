import Foundation
import StepLabData
import StepLabGenerative

/// The training log: `metrics.csv` and `metrics.jsonl`, one row per logged step, appended as training goes.
final class MetricsLog {
    let folder: RunFolder
    let csv: FileHandle
    let jsonl: FileHandle

    /// A new log, or (with `resumingAt`) the existing one cut back to the rows of steps up to that step, since
    /// a resumed run recomputes the steps after its checkpoint.
    init(folder: RunFolder, resumingAt step: Int? = nil) throws {
        var csvText = "step,loss,grad_norm,lr,wall_time\n", jsonlText = ""
        if let step {
            func kept(_ url: URL, _ stepOf: (Substring) -> Int?) -> String {
                let lines = ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n")
                return lines.filter { stepOf($0).map { $0 <= step } ?? false }.map { $0 + "\n" }.joined()
            }
            csvText += kept(folder.metricsCSV) { Int($0.split(separator: ",").first ?? "") }
            jsonlText = kept(folder.metricsJSONL) { line in
                line.range(of: "\"step\":").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) }
            }
        }
        try AtomicFile.write(Data(csvText.utf8), to: folder.metricsCSV)
        try AtomicFile.write(Data(jsonlText.utf8), to: folder.metricsJSONL)
        guard let csv = FileHandle(forWritingAtPath: folder.metricsCSV.path),
              let jsonl = FileHandle(forWritingAtPath: folder.metricsJSONL.path) else {
            throw CLIError("cannot write the metrics log in \(folder.url.path)")
        }
        csv.seekToEndOfFile()
        jsonl.seekToEndOfFile()
        self.folder = folder
        self.csv = csv
        self.jsonl = jsonl
    }

    deinit {
        try? csv.close()
        try? jsonl.close()
    }

    func append(step: Int, loss: Float, gradientNorm: Float, lr: Float, wallTime: Double) throws {
        let wall = String(format: "%.3f", wallTime)
        try Self.append("\(step),\(loss),\(gradientNorm),\(lr),\(wall)\n", to: csv, name: folder.metricsCSV.path)
        try Self.append("{\"step\":\(step),\"loss\":\(loss),\"grad_norm\":\(gradientNorm),\"lr\":\(lr),\"wall_time\":\(wall)}\n",
                        to: jsonl, name: folder.metricsJSONL.path)
    }

    /// The throwing write: FileHandle's older `write(_:)` crashes the process on a full disk.
    private static func append(_ line: String, to handle: FileHandle, name: String) throws {
        do { try handle.write(contentsOf: Data(line.utf8)) } catch {
            throw CLIError("cannot write \(name): \(fileErrorReason(error))")
        }
    }
}

/// A progress line: rewritten in place on a terminal, plain periodic lines otherwise (CI, files).
enum Progress {
    static let isTerminal = isatty(STDOUT_FILENO) != 0

    /// `since`: the step this process started from (a resumed run's rate counts only its own steps).
    static func report(step: Int, total: Int, loss: Float, elapsed: Double, since firstStep: Int = 0) {
        let rate = Double(step - firstStep) / Swift.max(elapsed, 1e-9)
        let eta = Double(total - step) / Swift.max(rate, 1e-9)
        let line = String(format: "step %d/%d  %.1f it/s  loss %.4f  eta %.0f s", step, total, rate, loss, eta)
        if isTerminal {
            print("\r\u{1B}[2K" + line, terminator: "")
            fflush(nil)
        } else {
            print(line)
        }
    }

    static func finish() { if isTerminal { print("") } }
}
