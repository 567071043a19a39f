// swift-tools-version: 6.0
import PackageDescription

/// Every `.cl` file in `Kernels/` is embedded into the binary (see `Kernels/KernelLibrary.swift`).
let kernelFiles = [
    "activations.cl",
    "attention.cl",
    "attention_wg.cl",
    "batch.cl",
    "channels.cl",
    "consistency.cl",
    "conv.cl",
    "conv_tiled.cl",
    "datasets.cl",
    "diffusion.cl",
    "diffusion_batch.cl",
    "edm.cl",
    "elementwise.cl",
    "groupnorm.cl",
    "groupnorm_wg.cl",
    "loss.cl",
    "matmul.cl",
    "meanflow.cl",
    "optimizer.cl",
    "random.cl",
    "reduce.cl",
    "sampling.cl",
    "schedule.cl",
    "scm.cl",
    "shortcut.cl",
    "vectors.cl",
]

let package = Package(
    name: "StepLab",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "StepLab", targets: ["OpenCLKit", "StepLabKernels", "StepLabEngine", "StepLabData", "StepLabGenerative"]),
        .executable(name: "steplab", targets: ["steplab"]),
        .executable(name: "bench", targets: ["bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenCL",
            path: "Sources/COpenCL",
            providers: [.apt(["ocl-icd-opencl-dev", "opencl-headers"])]
        ),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // Open MPI, for data-parallel training across the ranks of `mpirun` (scripts/install-opencl.sh installs it).
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .target(name: "OpenCLKit", dependencies: ["COpenCL"]),
        .target(
            name: "StepLabKernels",
            dependencies: ["OpenCLKit"],
            path: "Kernels",
            sources: ["KernelLibrary.swift"],
            // tuning.json: the matmul tuning database that `bench tune` writes (see Sources/StepLabEngine/TuningDatabase.swift).
            resources: (kernelFiles + ["tuning.json"]).map { .embedInCode($0) }
        ),
        .target(name: "StepLabEngine", dependencies: ["OpenCLKit", "StepLabKernels"]),
        .target(name: "StepLabData", dependencies: ["OpenCLKit", "StepLabEngine", "CZlib"]),
        .target(name: "StepLabGenerative", dependencies: ["OpenCLKit", "StepLabEngine", "StepLabData"]),
        // Above the engine and the generative layer, which know nothing of MPI.
        .target(name: "StepLabMPI", dependencies: ["CMPI", "StepLabEngine"]),
        .executableTarget(
            name: "steplab",
            dependencies: [
                "OpenCLKit", "StepLabEngine", "StepLabData", "StepLabGenerative", "StepLabMPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "bench",
            dependencies: [
                "OpenCLKit", "StepLabEngine", "StepLabData", "StepLabGenerative",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "bench",
            exclude: ["RESULTS-GPU.md", "results", "pytorch/pytorch_reference.py", "pytorch/steplab_networks.py", "pytorch/steplab_sample.py",
                      "pytorch/steplab_jvp.py", "pytorch/requirements.txt"]
        ),
        .testTarget(name: "OpenCLKitTests", dependencies: ["OpenCLKit", "StepLabKernels"]),
        // Runs the built `steplab` in subprocesses (so it depends on no module of it).
        .testTarget(name: "SteplabCLITests"),
        .target(name: "StepLabTestSupport", dependencies: ["StepLabEngine", "OpenCLKit"], path: "Tests/StepLabTestSupport"),
        .testTarget(name: "StepLabEngineTests", dependencies: ["StepLabEngine", "StepLabTestSupport"]),
        .testTarget(name: "StepLabDataTests", dependencies: ["StepLabData", "StepLabEngine", "StepLabTestSupport"]),
        .testTarget(name: "BenchTests", dependencies: ["bench", "StepLabEngine", "StepLabTestSupport"]),
        // Fixtures: files written by other tools (Python's safetensors), read through Bundle.module.
        .testTarget(
            name: "StepLabGenerativeTests",
            dependencies: ["StepLabGenerative", "StepLabEngine", "StepLabData", "StepLabTestSupport"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
