import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// A man in the middle on 127.0.0.1: it terminates TLS with a certificate chain of
/// its own choosing, reads the plaintext, and relays it over a fresh TLS connection
/// to the real server. An enrolling agent must refuse it before sending a byte.
public final class TLSRelay: Sendable {
    private let server: Channel
    private let state = NIOLockedValueBox(State())

    private struct State {
        var connections = 0
        /// Plaintext the clients sent through the relay: what an attacker would have read.
        var plaintextFromClients = 0
    }

    public var port: Int { self.server.localAddress!.port! }
    public var connections: Int { self.state.withLockedValue { $0.connections } }
    public var plaintextFromClients: Int { self.state.withLockedValue { $0.plaintextFromClients } }

    /// Presents `chain` (leaf first) with `key`, speaks ALPN `alpn`, and relays to `targetPort`.
    public init(chain: [NIOSSLCertificate], key: NIOSSLPrivateKey, alpn: String, targetPort: Int) async throws {
        var serverTLS = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        serverTLS.minimumTLSVersion = .tlsv13
        serverTLS.applicationProtocols = [alpn]
        var clientTLS = TLSConfiguration.makeClientConfiguration()
        clientTLS.minimumTLSVersion = .tlsv13
        clientTLS.certificateVerification = .none
        clientTLS.applicationProtocols = [alpn]
        let serverContext = try NIOSSLContext(configuration: serverTLS)
        let clientContext = try NIOSSLContext(configuration: clientTLS)
        let state = self.state
        self.server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { inbound in
                state.withLockedValue { $0.connections += 1 }
                return ClientBootstrap(group: inbound.eventLoop)
                    .channelInitializer { outbound in
                        outbound.eventLoop.makeCompletedFuture {
                            try outbound.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: clientContext, serverHostname: nil))
                        }
                    }
                    .connect(host: "127.0.0.1", port: targetPort)
                    .flatMapThrowing { outbound in
                        try inbound.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: serverContext))
                        try inbound.pipeline.syncOperations.addHandler(Relay(peer: outbound, onForward: { count in state.withLockedValue { $0.plaintextFromClients += count } }))
                        try outbound.pipeline.syncOperations.addHandler(Relay(peer: inbound))
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    public func close() async throws {
        try await self.server.close()
    }
}
