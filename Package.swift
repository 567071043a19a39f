// swift-tools-version: 6.0
import PackageDescription

/// Every `.cl` file in `Kernels/` is embedded into the binary (see `Kernels/KernelLibrary.swift`).
let kernelFiles = [
    "activations.cl",
    "datasets.cl",
    "elementwise.cl",
    "loss.cl",
    "matmul.cl",
    "optimizer.cl",
    "random.cl",
    "reduce.cl",
    "schedule.cl",
]

let package = Package(
    name: "StepLab",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "StepLab", targets: ["OpenCLKit", "StepLabKernels", "StepLabEngine", "StepLabData"]),
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
        .target(name: "OpenCLKit", dependencies: ["COpenCL"]),
        .target(
            name: "StepLabKernels",
            dependencies: ["OpenCLKit"],
            path: "Kernels",
            sources: ["KernelLibrary.swift"],
            resources: kernelFiles.map { .embedInCode($0) }
        ),
        .target(name: "StepLabEngine", dependencies: ["OpenCLKit", "StepLabKernels"]),
        .target(name: "StepLabData", dependencies: ["OpenCLKit", "StepLabEngine"]),
        .executableTarget(
            name: "steplab",
            dependencies: [
                "OpenCLKit", "StepLabEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "bench",
            dependencies: [
                "OpenCLKit", "StepLabEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "bench"
        ),
        .testTarget(name: "OpenCLKitTests", dependencies: ["OpenCLKit", "StepLabKernels"]),
        .testTarget(name: "StepLabEngineTests", dependencies: ["StepLabEngine"]),
        .testTarget(name: "StepLabDataTests", dependencies: ["StepLabData", "StepLabEngine"]),
    ],
    swiftLanguageModes: [.v6]
)
