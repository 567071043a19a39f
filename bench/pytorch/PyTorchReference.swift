import Foundation

/// Runs `bench/pytorch/pytorch_reference.py` (the same training workload in PyTorch) in a subprocess, when
/// `python3 -c "import torch"` works, so both figures come from the same machine in the same run.
enum PyTorchReference {
    /// The script, found next to this source file or under `bench/` of the working directory.
    static var script: String? {
        let candidates = [
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("pytorch_reference.py").path,
            FileManager.default.currentDirectoryPath + "/bench/pytorch/pytorch_reference.py",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    static var available: Bool {
        guard script != nil, let result = try? runPython(["-c", "import torch"]) else { return false }
        return result.status == 0
    }

    static let installHint = "PyTorch not found: `pip install -r bench/pytorch/requirements.txt` (a CPU wheel of torch is enough) to compare against it"

    /// One steady-state measurement: steps (or samples) per second, and the serving process's peak resident bytes
    /// since the request began (its interpreter and earlier workloads' resident memory included).
    struct Measurement {
        var stepsPerSecond: Double
        var peakBytes: Int?
    }

    /// `pytorch_reference.py --serve` kept running, so rounds of StepLab and PyTorch can alternate without
    /// paying for interpreter start-up and torch.compile every round. One server per mode (eager, compiled).
    final class Server {
        let compile: Bool
        private let process = Process()
        private let input = Pipe(), output = Pipe()
        private var buffered = Data()

        /// Starts the server; nil when the script is missing or python3 cannot start.
        init?(compile: Bool, threads: Int) {
            guard let script = PyTorchReference.script else { return nil }
            self.compile = compile
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-B", script, "--serve", "--threads", String(threads)]  // -B: no __pycache__ in bench/, which SwiftPM would warn about
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            do { try process.run() } catch { return nil }
        }

        deinit {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }

        /// Times the training workload for `seconds` (warming it up on first use); nil when the server failed or
        /// answered with an error.
        func measure(architecture: String = "mlp", width: Int, batch: Int, seconds: Double) -> Measurement? {
            guard let reply = request(["arch": architecture, "width": width, "batch": batch, "seconds": seconds, "compile": compile]),
                  let rate = reply["steps_per_s"] as? Double else { return nil }
            return Measurement(stepsPerSecond: rate, peakBytes: reply["max_rss_bytes"] as? Int)
        }

        /// Samples per second of `steps`-step DDIM with the reference network at `batch`, and the peak bytes.
        func measureSampling(width: Int, batch: Int, steps: Int, seconds: Double) -> Measurement? {
            guard let reply = request(["task": "sample", "width": width, "batch": batch, "steps": steps, "seconds": seconds]),
                  let rate = reply["samples_per_s"] as? Double else { return nil }
            return Measurement(stepsPerSecond: rate, peakBytes: reply["max_rss_bytes"] as? Int)
        }

        /// One request line out, one reply line back; nil when the server is gone or the reply is not JSON.
        private func request(_ fields: [String: Any]) -> [String: Any]? {
            guard process.isRunning, var line = try? JSONSerialization.data(withJSONObject: fields) else { return nil }
            line.append(UInt8(ascii: "\n"))
            do { try input.fileHandleForWriting.write(contentsOf: line) } catch { return nil }
            guard let reply = readLine() else { return nil }
            return try? JSONSerialization.jsonObject(with: reply) as? [String: Any]
        }

        private func readLine() -> Data? {
            while true {
                if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = buffered[buffered.startIndex ..< newline]
                    buffered = Data(buffered[buffered.index(after: newline)...])
                    return Data(line)
                }
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }  // end of file: the server exited
                buffered.append(chunk)
            }
        }
    }

    static func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-B"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
