import Controller
import Crypto
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Wire

/// Goodput of one bulk stream over real TLS 1.3 on 127.0.0.1: Tern (frames, flow
/// control, block parsing and inflating) against plain swift-nio-ssl writing the
/// same bytes in 64 KiB writes, in the same run.
struct GoodputBench {
    let size: Int
    let repeats: Int
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    func run() async throws {
        print("\n## Goodput of one bulk stream over TLS 1.3 on loopback (\(self.size >> 20) MiB, median of \(self.repeats) after one warm-up run)")
        let tls = try BenchTLS()
        for data in [BenchData.incompressible, .compressible] {
            let blocks = data.blocks()
            let skipRaw = CommandLine.arguments.contains("--tern-only")
            let rawSeconds = skipRaw ? 1 : try await self.median { try await RawTLSRun(tls: tls, group: self.group, blocks: blocks, size: self.size).run() }
            let rawRate = Double(self.size) / rawSeconds / 1e6
            print("- \(data.name) data: raw swift-nio-ssl " + (skipRaw ? "not measured (--tern-only)" : "\(format(rawRate)) MB/s"))
            for zlib in [false, true] {
                let encoded = try blocks.enumerated().map { try BlockCodec(level: 6).encode($0.element, index: UInt32($0.offset), compress: zlib) }
                let wireBytes = encoded.reduce(0) { $0 + $1.wireSize }
                let rawBytes = blocks.reduce(0) { $0 + $1.readableBytes }
                var roundTrips: [TimeAmount] = []
                let seconds = try await self.median {
                    let run = TernRun(tls: tls, group: self.group, blocks: encoded, size: self.size, zlib: zlib)
                    let seconds = try await run.run()
                    roundTrips += run.roundTrips.withLockedValue { $0 }
                    return seconds
                }
                let rate = Double(self.size) / seconds / 1e6
                let ratio = skipRaw ? "" : "  ratio \(format(rate / rawRate, 3))"
                print("  Tern, zlib \(zlib ? "on " : "off"): \(format(rate)) MB/s\(ratio)  (wire bytes per raw byte \(format(Double(wireBytes) / Double(rawBytes), 3)))")
                let millis = roundTrips.map { Double($0.nanoseconds) / 1e6 }.sorted()
                if !millis.isEmpty {
                    print("    PING during the stream (\(millis.count) probes): median \(format(millis[millis.count / 2], 2)) ms, p99 \(format(millis[min(millis.count - 1, millis.count * 99 / 100)], 2)) ms, max \(format(millis.last!, 2)) ms")
                }
            }
        }
        try await self.group.shutdownGracefully()
    }

    private func median(_ body: () async throws -> Double) async throws -> Double {
        // One untimed run first: the allocator and the socket buffers settle.
        _ = try await body()
        var samples: [Double] = []
        for _ in 0..<self.repeats { samples.append(try await body()) }
        if CommandLine.arguments.contains("--samples") {
            print("    samples (MB/s): " + samples.map { format(Double(self.size) / $0 / 1e6, 0) }.joined(separator: " "))
        }
        return GoodputBench.middle(samples)
    }

    static func middle(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}

/// The bytes sent: a cycle of 16 distinct 1 MiB blocks.
enum BenchData {
    case incompressible
    case compressible

    var name: String { self == .incompressible ? "incompressible (random)" : "compressible (log-like text)" }

    func blocks() -> [ByteBuffer] {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in
            var block = ByteBuffer()
            block.reserveCapacity(1 << 20)
            switch self {
            case .incompressible:
                while block.readableBytes < 1 << 20 { block.writeInteger(generator.next() as UInt64) }
            case .compressible:
                while block.readableBytes < 1 << 20 {
                    let value = generator.next() % 100_000
                    block.writeString("2026-11-29T09:\(value % 60):\(value % 59) edge-\(value % 1000) kernel: eth0 link up, \(value) Mbps full duplex\n")
                }
                block.moveWriterIndex(to: 1 << 20)
            }
            return block
        }
    }
}

/// A CA, a server certificate and a client certificate, made in memory.
struct BenchTLS {
    let server: NIOSSLContext
    let client: NIOSSLContext

    init() throws {
        let authority = try CertificateAuthority(name: "bench CA")
        let serverKey = P256.Signing.PrivateKey()
        let serverCertificate = try authority.issueServerCertificate(for: serverKey.publicKey, hostnames: ["localhost"], ipAddresses: [[127, 0, 0, 1]])
        let clientKey = P256.Signing.PrivateKey()
        let clientCertificate = try authority.issueClientCertificate(for: .init(clientKey.publicKey), name: "bench-agent")
        func certificate(_ pem: String) throws -> NIOSSLCertificate { try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem) }
        func key(_ pem: String) throws -> NIOSSLPrivateKey { try NIOSSLPrivateKey(bytes: Array(pem.utf8), format: .pem) }
        let ca = try certificate(try authority.certificatePEM)
        self.server = try NIOSSLContext(configuration: TLSPolicy.server(
            certificateChain: [try certificate(try serverCertificate.serializeAsPEM().pemString)], privateKey: try key(serverKey.pemRepresentation), trustRoots: [ca]
        ))
        self.client = try NIOSSLContext(configuration: TLSPolicy.client(
            certificateChain: [try certificate(try clientCertificate.serializeAsPEM().pemString)], privateKey: try key(clientKey.pemRepresentation), trustRoots: [ca]
        ))
    }
}
