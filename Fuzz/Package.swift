// swift-tools-version:6.1
// libFuzzer harnesses for Tailor, one executable per target. Not part of `make test`: build and run with
// `make fuzz` / `make fuzz-smoke` (see FUZZING.md), which pass -sanitize=fuzzer,address and -enable-testing.
import PackageDescription

let harnesses: [(name: String, deps: [String])] = [
    ("FuzzHTTPServer", ["TailorHTTP"]),
    ("FuzzRequestParser", ["TailorHTTP"]),
    ("FuzzMultipart", ["TailorHTTP"]),
    ("FuzzAPIRequests", ["TailorAPI", "TailorHTTP", "TailorGrammar"]),
    ("FuzzTemplates", ["TailorTemplates"]),
    ("FuzzTokenizer", ["TailorEngine"]),
    ("FuzzModelFiles", ["TailorEngine"]),
]

let package = Package(
    name: "TailorFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "Tailor", path: "..")],
    targets: [.target(name: "FuzzSupport")] + harnesses.map { harness in
        .executableTarget(
            name: harness.name,
            dependencies: ["FuzzSupport"] + harness.deps.map { dep -> Target.Dependency in
                .product(name: dep, package: "Tailor")
            })
    }
)
