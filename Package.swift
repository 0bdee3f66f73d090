// swift-tools-version:6.1
// Tailor: a self-hosted OpenAI-compatible fine-tuning server. One target per concern;
// dependencies point one way: tailor → TailorAPI → {TailorHTTP, TailorJobs → {TailorEngine, TailorStore, TailorEval}}.
import PackageDescription

// TAILOR_FUZZ=1 (set by `make fuzz`, see FUZZING.md) keeps Swift's overflow and bounds checks in the release build
// the fuzzers use: -Ounchecked would remove exactly the traps the fuzzers are meant to hit.
let optimize: [SwiftSetting] = Context.environment["TAILOR_FUZZ"] != nil ? []
    : [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "Tailor",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tailor", targets: ["tailor"]),
        // For the fuzzing package in Fuzz/ (its own Package.swift, built only by `make fuzz`).
        .library(name: "TailorHTTP", targets: ["TailorHTTP"]),
        .library(name: "TailorAPI", targets: ["TailorAPI"]),
        .library(name: "TailorTemplates", targets: ["TailorTemplates"]),
        .library(name: "TailorEngine", targets: ["TailorEngine"]),
        .library(name: "TailorGrammar", targets: ["TailorGrammar"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // Thin system-library shims: a module map and a header, nothing else.
        .systemLibrary(name: "CUV", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "COpenBLAS", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),
        // Hand-written SIMD kernels the engine needs where BLAS has none (quantised dot products).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),

        // A Jinja subset, enough for the chat templates that real models ship.
        .target(name: "TailorTemplates"),
        // Constrained decoding: JSON Schema → grammar → allowed-token masks over a vocabulary of byte strings.
        // Knows tokens and bytes, not models or HTTP; the sampler will sit on top of it.
        .target(name: "TailorGrammar", swiftSettings: optimize),
        .target(name: "TailorEngine",
                dependencies: ["COpenBLAS", "CKernels", "TailorTemplates", .product(name: "Logging", package: "swift-log")],
                swiftSettings: optimize),
        .target(name: "TailorStore",
                dependencies: [.product(name: "GRDB", package: "GRDB.swift"),
                               .product(name: "PostgresNIO", package: "postgres-nio"),
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio"),
                               .product(name: "NIOSSL", package: "swift-nio-ssl"),
                               .product(name: "Crypto", package: "swift-crypto"),
                               .product(name: "Logging", package: "swift-log")]),
        .target(name: "TailorHTTP",
                dependencies: ["CUV", "CHTTPParser", .product(name: "Logging", package: "swift-log")],
                swiftSettings: optimize),
        .target(name: "TailorJobs",
                dependencies: ["TailorEngine", "TailorStore", "TailorGrammar", "TailorEval", "TailorTemplates",
                               .product(name: "Logging", package: "swift-log")]),
        .target(name: "TailorAPI",
                dependencies: ["TailorHTTP", "TailorJobs", "TailorEngine", "TailorStore", "TailorGrammar", "TailorEval",
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "CoreMetrics", package: "swift-metrics"),
                               .product(name: "Metrics", package: "swift-metrics"),
                               .product(name: "Prometheus", package: "swift-prometheus")]),
        // The Evals API's deterministic graders and text metrics (BLEU, ROUGE, METEOR, ...): pure functions, no server.
        .target(name: "TailorEval"),
        .executableTarget(name: "tailor",
                          dependencies: ["TailorAPI", "TailorGrammar", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log")]),

        .testTarget(name: "TailorEngineTests", dependencies: ["TailorEngine", "CKernels"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TailorTemplatesTests", dependencies: ["TailorTemplates"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TailorGrammarTests", dependencies: ["TailorGrammar"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TailorStoreTests", dependencies: ["TailorStore", .product(name: "PostgresNIO", package: "postgres-nio")]),
        .testTarget(name: "TailorHTTPTests", dependencies: ["TailorHTTP"]),
        .testTarget(name: "TailorJobsTests", dependencies: ["TailorJobs", "TailorEval", "TailorStore", "TailorEngine"]),
        .testTarget(name: "TailorAPITests", dependencies: ["TailorAPI"]),
        .testTarget(name: "TailorEvalTests", dependencies: ["TailorEval"], resources: [.copy("Fixtures")]),
    ]
)
