import Foundation

/// The training log: `metrics.csv` and `metrics.jsonl`, one row per logged step, appended as training goes.
final class MetricsLog {
    let csv: FileHandle
    let jsonl: FileHandle

    init(folder: RunFolder) throws {
        FileManager.default.createFile(atPath: folder.metricsCSV.path, contents: Data("step,loss,grad_norm,lr,wall_time\n".utf8))
        FileManager.default.createFile(atPath: folder.metricsJSONL.path, contents: Data())
        guard let csv = FileHandle(forWritingAtPath: folder.metricsCSV.path),
              let jsonl = FileHandle(forWritingAtPath: folder.metricsJSONL.path) else {
            throw CLIError("cannot write the metrics log in \(folder.url.path)")
        }
        csv.seekToEndOfFile()
        self.csv = csv
        self.jsonl = jsonl
    }

    deinit {
        try? csv.close()
        try? jsonl.close()
    }

    func append(step: Int, loss: Float, gradientNorm: Float, lr: Float, wallTime: Double) throws {
        csv.write(Data("\(step),\(loss),\(gradientNorm),\(lr),\(String(format: "%.3f", wallTime))\n".utf8))
        jsonl.write(Data("{\"step\":\(step),\"loss\":\(loss),\"grad_norm\":\(gradientNorm),\"lr\":\(lr),\"wall_time\":\(String(format: "%.3f", wallTime))}\n".utf8))
    }
}

/// A progress line: rewritten in place on a terminal, plain periodic lines otherwise (CI, files).
enum Progress {
    static let isTerminal = isatty(STDOUT_FILENO) != 0

    static func report(step: Int, total: Int, loss: Float, elapsed: Double) {
        let rate = Double(step) / Swift.max(elapsed, 1e-9)
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
