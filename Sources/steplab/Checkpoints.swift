import Foundation
import StepLabData
import StepLabGenerative

/// Checkpoints in a run folder: `checkpoint-STEP.safetensors` with raw weights, EMA, AdamW moments and, in the
/// metadata, the step counters and the configuration. Written atomically; the newest `keep` are kept.
extension RunFolder {
    func checkpointURL(step: Int) -> URL { url.appendingPathComponent(String(format: "checkpoint-%09d.safetensors", step)) }

    /// Steps of the checkpoints present, ascending.
    func checkpointSteps() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("checkpoint-"), name.hasSuffix(".safetensors") else { return nil }
            return Int(name.dropFirst("checkpoint-".count).dropLast(".safetensors".count))
        }.sorted()
    }

    /// Writes `state` as the checkpoint of its step; `devices` (the data-parallel replicas that trained it) goes in
    /// the metadata, so a resume on another count can say so.
    func saveCheckpoint(_ state: Trainer.State, config: RunConfig, devices: Int = 1, keep: Int) throws {
        var tensors: [String: SafeTensors.HostTensor] = [
            "raw": SafeTensors.HostTensor(shape: [state.parameters.count], values: state.parameters),
            "adam/m": SafeTensors.HostTensor(shape: [state.firstMoment.count], values: state.firstMoment),
            "adam/v": SafeTensors.HostTensor(shape: [state.secondMoment.count], values: state.secondMoment),
        ]
        if let ema = state.ema { tensors["ema"] = SafeTensors.HostTensor(shape: [ema.count], values: ema) }
        let configJSON = String(decoding: try RunFolder.sortedEncoder.encode(config), as: UTF8.self)
        let metadata = ["format": "steplab-checkpoint-1", "step": String(state.step), "optimizer_step": String(state.optimizerStep),
                        "ema_updates": String(state.emaUpdates), "devices": String(devices), "config": configJSON]
        try SafeTensors.write(tensors, metadata: metadata, to: checkpointURL(step: state.step))
        for old in checkpointSteps().dropLast(Swift.max(1, keep)) { try? FileManager.default.removeItem(at: checkpointURL(step: old)) }
    }

    /// The newest checkpoint's state and the device count it records (nil for a checkpoint from before data
    /// parallelism); a clear error when there is none or it does not fit `config`.
    func loadLatestCheckpoint(parameterCount: Int) throws -> (state: Trainer.State, devices: Int?) {
        guard let step = checkpointSteps().last else {
            throw CLIError("\(url.path) has no checkpoint to resume from (checkpoint-*.safetensors)")
        }
        let file: (tensors: [String: SafeTensors.HostTensor], metadata: [String: String])
        do { file = try SafeTensors.read(checkpointURL(step: step)) } catch { throw CLIError("\(error)") }
        guard let raw = file.tensors["raw"]?.values, let m = file.tensors["adam/m"]?.values, let v = file.tensors["adam/v"]?.values,
              let savedStep = file.metadata["step"].flatMap(Int.init), let optimizerStep = file.metadata["optimizer_step"].flatMap(Int.init) else {
            throw CLIError("\(checkpointURL(step: step).path) is not a StepLab checkpoint (missing tensors or metadata)")
        }
        guard raw.count == parameterCount, m.count == parameterCount, v.count == parameterCount,
              file.tensors["ema"].map({ $0.values.count == parameterCount }) ?? true else {
            throw CLIError("\(checkpointURL(step: step).path) holds \(raw.count) parameters; this run's architecture has \(parameterCount)")
        }
        let state = Trainer.State(step: savedStep, parameters: raw, ema: file.tensors["ema"]?.values,
                                  emaUpdates: file.metadata["ema_updates"].flatMap(Int.init) ?? 0, firstMoment: m, secondMoment: v,
                                  optimizerStep: optimizerStep)
        return (state, file.metadata["devices"].flatMap(Int.init))
    }
}

/// Set by SIGINT / SIGTERM; the training loop checks it between steps.
nonisolated(unsafe) var interruptRequested: sig_atomic_t = 0

enum Interrupts {
    /// Turns SIGINT and SIGTERM into a request to checkpoint and stop after the current step.
    static func install() {
        signal(SIGINT) { _ in interruptRequested = 1 }
        signal(SIGTERM) { _ in interruptRequested = 1 }
    }
}
