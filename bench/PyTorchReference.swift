import Foundation

/// Runs `bench/pytorch_reference.py` (the same training workload in PyTorch) in a subprocess, when
/// `python3 -c "import torch"` works, so both figures come from the same machine in the same run.
enum PyTorchReference {
    /// The script, found next to this source file or under `bench/` of the working directory.
    static var script: String? {
        let candidates = [
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("pytorch_reference.py").path,
            FileManager.default.currentDirectoryPath + "/bench/pytorch_reference.py",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    static var available: Bool {
        guard script != nil, let result = try? runPython(["-c", "import torch"]) else { return false }
        return result.status == 0
    }

    static let installHint = "PyTorch not found: `pip install torch` (the CPU wheel is enough) to compare against it"

    /// Steps per second of the reference workload in PyTorch and the process's peak resident bytes, or nil when
    /// it could not run.
    static func measure(width: Int, batch: Int, seconds: Double, compile: Bool, threads: Int) -> (stepsPerSecond: Double, peakBytes: Int?)? {
        guard let script else { return nil }
        var arguments = [script, "--width", String(width), "--batch", String(batch), "--seconds", String(seconds),
                         "--threads", String(threads)]
        if compile { arguments.append("--compile") }
        guard let result = try? runPython(arguments), result.status == 0,
              let line = result.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        guard let rate = object["steps_per_s"] as? Double else { return nil }
        return (rate, object["max_rss_bytes"] as? Int)
    }

    static func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
