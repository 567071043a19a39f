import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// A training run on disk: `config.json`, `model.safetensors` (raw and EMA weights), `metrics.csv` and
/// `metrics.jsonl`.
struct RunFolder {
    let url: URL

    var configURL: URL { url.appendingPathComponent("config.json") }
    var weightsURL: URL { url.appendingPathComponent("model.safetensors") }
    var metricsCSV: URL { url.appendingPathComponent("metrics.csv") }
    var metricsJSONL: URL { url.appendingPathComponent("metrics.jsonl") }

    init(_ path: String) { url = URL(fileURLWithPath: path) }

    /// Keys sorted, so the same configuration always serialises to the same bytes (checkpoints compare equal).
    static let sortedEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// Creates the folder for a new run; refuses one that already holds a trained model.
    func prepareForTraining() throws {
        if FileManager.default.fileExists(atPath: weightsURL.path) {
            throw CLIError("\(url.path) already holds a trained run (model.safetensors); choose another --out or remove it")
        }
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            let probe = url.appendingPathComponent(".write-test-\(getpid())")
            try Data().write(to: probe)
            try FileManager.default.removeItem(at: probe)
        } catch {
            throw CLIError("cannot write to \(url.path): \(blockingFile().map { "\($0.path) is a file, not a folder" } ?? fileErrorReason(error))")
        }
    }

    /// The nearest existing ancestor of the folder when it is a file: Foundation's createDirectory reports that
    /// case on Linux without any reason.
    private func blockingFile() -> URL? {
        var ancestor = url
        var isDirectory: ObjCBool = false
        while !FileManager.default.fileExists(atPath: ancestor.path, isDirectory: &isDirectory), ancestor.path != "/" {
            ancestor.deleteLastPathComponent()
        }
        return isDirectory.boolValue ? nil : ancestor
    }

    func saveConfig(_ config: RunConfig) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(encoder.encode(config), to: configURL)
    }

    func loadConfig() throws -> RunConfig {
        guard let data = try? Data(contentsOf: configURL) else {
            throw CLIError("\(url.path) is not a StepLab run: \(configURL.lastPathComponent) is missing or unreadable")
        }
        do { return try JSONDecoder().decode(RunConfig.self, from: data) } catch {
            throw CLIError("\(configURL.path) is not a valid run configuration: \(error.localizedDescription)")
        }
    }

    /// Writes raw and EMA weights as `raw/NAME` and `ema/NAME`, with the step and config in the metadata.
    func saveWeights(model: Denoiser, ema: EMA?, step: Int, config: RunConfig) throws {
        var tensors = try model.parameters.safeTensors(prefix: "raw/")
        if let ema { tensors.merge(try model.parameters.safeTensors(prefix: "ema/", from: ema.values)) { $1 } }
        let configJSON = String(decoding: try RunFolder.sortedEncoder.encode(config), as: UTF8.self)
        try SafeTensors.write(tensors, metadata: ["format": "steplab-1", "step": String(step), "config": configJSON], to: weightsURL)
    }

    /// A model with this run's architecture and its weights (`ema` picks the EMA copy when present).
    func loadModel(engine: Engine, config: RunConfig, ema: Bool) throws -> Denoiser {
        let model = try Denoiser(engine: engine, config: config.denoiser, seed: 0)
        let file: (tensors: [String: SafeTensors.HostTensor], metadata: [String: String])
        do { file = try SafeTensors.read(weightsURL) } catch { throw CLIError("\(error)") }
        let prefix = ema && file.tensors.keys.contains(where: { $0.hasPrefix("ema/") }) ? "ema/" : "raw/"
        var named: [String: [Float]] = [:]
        for (name, tensor) in file.tensors where name.hasPrefix(prefix) { named[String(name.dropFirst(prefix.count))] = tensor.values }
        do { try model.parameters.load(named) } catch {
            throw CLIError("\(weightsURL.path) does not fit the architecture in \(configURL.lastPathComponent): \(error.description)")
        }
        return model
    }
}
