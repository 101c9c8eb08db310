// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "tern",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Wire", targets: ["Wire"]),
        .executable(name: "tern-controller", targets: ["tern-controller"]),
        .executable(name: "tern-agent", targets: ["tern-agent"]),
        .executable(name: "tern-bench", targets: ["tern-bench"]),
        .executable(name: "tern-idle-baseline", targets: ["tern-idle-baseline"]),
        .executable(name: "tern-sim", targets: ["tern-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // Wire — the protocol and nothing else: frames, messages, the session state
        // machine, flow control, the bulk scheduler, the block codec, the TLS policy
        // (ALPN, versions, CSR rules) and the NIO handler that runs them. It opens no
        // sockets, touches no files and knows no application. Imports NIO, NIOSSL,
        // compress-nio, swift-certificates, swift-crypto and swift-log only.
        .target(
            name: "Wire",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
        ),
        // Platform — what both programs need that is not protocol: running host
        // commands without a shell or a blocked thread, atomic files, sd_notify,
        // HOST:PORT parsing, the on-disk content formats (OCI layout, config bundle),
        // key-material redaction, BackgroundWork (the Service that runs work
        // outliving a request) and the receiving side of transfers (resumable,
        // verified, off the event loop), which the agent uses for downloads and the
        // controller for backup uploads. May import Wire, never Controller or Agent.
        .target(
            name: "Platform",
            dependencies: [
                "Wire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Controller — the central site's library: fleet registry and stores, PKI
        // (the CA issuing certificates lives only here), the wire server, content
        // plane, REST API. Imports Wire and Platform, never Agent.
        .target(
            name: "Controller",
            dependencies: [
                "Wire", "Platform",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            // The dashboard's static files, compiled into the binary: nothing to ship beside it.
            resources: [
                .embedInCode("Dashboard/Assets/index.html"),
                .embedInCode("Dashboard/Assets/signin.html"),
                .embedInCode("Dashboard/Assets/signin.js"),
                .embedInCode("Dashboard/Assets/app.css"),
                .embedInCode("Dashboard/Assets/app.js"),
                .embedInCode("Dashboard/Assets/charts.js"),
                .embedInCode("Dashboard/Assets/dom.js"),
                .embedInCode("Dashboard/Assets/feed.js"),
                .embedInCode("Dashboard/Assets/fleet.js"),
                .embedInCode("Dashboard/Assets/lists.js"),
                .embedInCode("Dashboard/Assets/subcloud.js"),
            ],
        ),
        // The controller's executable: argument parsing and the CLI only.
        .executableTarget(
            name: "tern-controller",
            dependencies: [
                "Controller", "Wire", "Platform",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                // Reads --install-values files written in YAML.
                .product(name: "Yams", package: "Yams"),
            ],
        ),
        // Agent — the edge server's library: enrolment, the controller link,
        // transfers, deployment sites, health, alarms. Imports Wire and Platform,
        // never Controller.
        .target(
            name: "Agent",
            dependencies: [
                "Wire", "Platform",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
        ),
        // The agent's executable: argument parsing only.
        .executableTarget(
            name: "tern-agent",
            dependencies: [
                "Agent", "Wire", "Platform",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
        ),
        .executableTarget(
            name: "tern-bench",
            dependencies: [
                "Wire", "Platform", "Controller", "Agent",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/TernBench"
        ),
        // The idle-agent baseline: NIO and NIOSSL only, nothing of Tern linked in.
        // A fleet of simulated agents (the real agent code) in one process.
        .executableTarget(
            name: "tern-sim",
            dependencies: [
                "Agent", "Controller", "Wire", "Platform",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
        ),
        .executableTarget(
            name: "tern-idle-baseline",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Benchmarks/IdleBaseline"
        ),
        // Test support: processes, relays, fault proxies. Tests only.
        .target(
            name: "TernTestSupport",
            dependencies: [
                "Wire", "Platform", "Controller", "Agent",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Support"
        ),
        .testTarget(
            name: "WireTests",
            dependencies: [
                "Wire", "TernTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            exclude: ["FuzzRegressions"]
        ),
        .testTarget(
            name: "PlatformTests",
            dependencies: ["Platform", "TernTestSupport"]
        ),
        .testTarget(
            name: "ControllerTests",
            dependencies: [
                "Controller", "Wire", "Platform", "TernTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "AgentTests",
            dependencies: [
                "Agent", "Wire", "Platform", "TernTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ConformanceTests",
            dependencies: [
                "Wire",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Vectors", "annotate.py"]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Wire", "Platform", "Controller", "Agent", "TernTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ]
)
