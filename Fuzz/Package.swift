// swift-tools-version:6.1
// libFuzzer targets for the Tern wire decoders. A package of its own because
// `--sanitize=fuzzer` breaks ordinary executables built beside it.
//
//     cd Fuzz
//     swift build -c debug --sanitize=fuzzer --sanitize=address --product FuzzWire
//     mkdir -p crashes corpus && cp ../Tests/WireTests/FuzzRegressions/* corpus/ 2>/dev/null
//     SWIFT_BACKTRACE=enable=no .build/debug/FuzzWire -max_total_time=60 -artifact_prefix=crashes/ corpus/
import PackageDescription

let package = Package(
    name: "tern-fuzz",
    dependencies: [
        .package(name: "tern", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "FuzzWire",
            dependencies: [
                .product(name: "Wire", package: "tern"),
            ]
        ),
    ]
)
