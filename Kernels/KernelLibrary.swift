import Foundation
import OpenCLKit

/// The `.cl` sources of `Kernels/`, embedded in the binary at build time so a built `steplab` or `bench`
/// runs from any folder. `STEPLAB_KERNELS=DIR` makes files present in DIR win over the embedded copies,
/// for editing kernels without rebuilding.
public enum KernelLibrary {
    /// File name to embedded text. Every `.cl` file in `Kernels/` must appear here and in `Package.swift`
    /// (a test checks both).
    public static let embedded: [String: String] = [
        "activations.cl": String(decoding: PackageResources.activations_cl, as: UTF8.self),
        "attention.cl": String(decoding: PackageResources.attention_cl, as: UTF8.self),
        "attention_wg.cl": String(decoding: PackageResources.attention_wg_cl, as: UTF8.self),
        "batch.cl": String(decoding: PackageResources.batch_cl, as: UTF8.self),
        "channels.cl": String(decoding: PackageResources.channels_cl, as: UTF8.self),
        "consistency.cl": String(decoding: PackageResources.consistency_cl, as: UTF8.self),
        "conv.cl": String(decoding: PackageResources.conv_cl, as: UTF8.self),
        "conv_tiled.cl": String(decoding: PackageResources.conv_tiled_cl, as: UTF8.self),
        "datasets.cl": String(decoding: PackageResources.datasets_cl, as: UTF8.self),
        "diffusion.cl": String(decoding: PackageResources.diffusion_cl, as: UTF8.self),
        "diffusion_batch.cl": String(decoding: PackageResources.diffusion_batch_cl, as: UTF8.self),
        "edm.cl": String(decoding: PackageResources.edm_cl, as: UTF8.self),
        "elementwise.cl": String(decoding: PackageResources.elementwise_cl, as: UTF8.self),
        "groupnorm.cl": String(decoding: PackageResources.groupnorm_cl, as: UTF8.self),
        "groupnorm_wg.cl": String(decoding: PackageResources.groupnorm_wg_cl, as: UTF8.self),
        "loss.cl": String(decoding: PackageResources.loss_cl, as: UTF8.self),
        "matmul.cl": String(decoding: PackageResources.matmul_cl, as: UTF8.self),
        "meanflow.cl": String(decoding: PackageResources.meanflow_cl, as: UTF8.self),
        "optimizer.cl": String(decoding: PackageResources.optimizer_cl, as: UTF8.self),
        "random.cl": String(decoding: PackageResources.random_cl, as: UTF8.self),
        "reduce.cl": String(decoding: PackageResources.reduce_cl, as: UTF8.self),
        "sampling.cl": String(decoding: PackageResources.sampling_cl, as: UTF8.self),
        "schedule.cl": String(decoding: PackageResources.schedule_cl, as: UTF8.self),
        "scm.cl": String(decoding: PackageResources.scm_cl, as: UTF8.self),
        "shortcut.cl": String(decoding: PackageResources.shortcut_cl, as: UTF8.self),
        "vectors.cl": String(decoding: PackageResources.vectors_cl, as: UTF8.self),
    ]

    /// The files each kernel file uses (helpers it calls), declared once: a program for `file` is the
    /// concatenation of `program(file)`, helpers first.
    public static let dependencies: [String: [String]] = [
        "batch.cl": ["random.cl"],
        "consistency.cl": ["random.cl", "schedule.cl"],
        "datasets.cl": ["random.cl"],
        "diffusion.cl": ["schedule.cl"],
        "diffusion_batch.cl": ["random.cl", "schedule.cl", "diffusion.cl"],
        "conv.cl": ["activations.cl", "matmul.cl", "vectors.cl"],
        "conv_tiled.cl": ["activations.cl", "matmul.cl"],
        "edm.cl": ["random.cl"],
        "groupnorm.cl": ["activations.cl", "vectors.cl"],
        "groupnorm_wg.cl": ["groupnorm.cl"],
        "matmul.cl": ["activations.cl"],
        "meanflow.cl": ["random.cl", "schedule.cl"],
        "scm.cl": ["random.cl", "schedule.cl"],
        "shortcut.cl": ["random.cl", "schedule.cl"],
    ]

    /// `file` after its dependencies (and theirs), each once, in an order where a file follows what it uses.
    public static func program(_ file: String) -> [String] {
        var ordered: [String] = []
        func visit(_ name: String) {
            guard !ordered.contains(name) else { return }
            for dependency in dependencies[name] ?? [] { visit(dependency) }
            ordered.append(name)
        }
        visit(file)
        return ordered
    }

    /// The matmul tuning database as committed in `Kernels/tuning.json` (JSON; `bench tune` writes it).
    public static var tuningDatabase: Data { Data(PackageResources.tuning_json) }

    /// The source of `file` (e.g. `"matmul.cl"`), from `STEPLAB_KERNELS` when it holds that file.
    public static func source(_ file: String, environment: [String: String] = currentEnvironment()) throws(OpenCLError) -> String {
        if let directory = environment["STEPLAB_KERNELS"], !directory.isEmpty {
            let url = URL(fileURLWithPath: directory).appendingPathComponent(file)
            if FileManager.default.fileExists(atPath: url.path) {
                guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                    throw .missingSource("cannot read kernel source \(url.path) (from STEPLAB_KERNELS)")
                }
                return text
            }
        }
        guard let text = embedded[file] else {
            throw .missingSource("no kernel source named \(file); known: \(embedded.keys.sorted().joined(separator: ", "))")
        }
        return text
    }
}
