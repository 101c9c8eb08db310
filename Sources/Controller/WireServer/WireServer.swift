import Logging
import NIOCore
import ServiceLifecycle
import Wire

/// The protocol port: accepts agents over mutual TLS and runs one `AgentSession`
/// per connection, each in its own child task.
///
/// On graceful shutdown it stops accepting, sends GOAWAY to every agent, and waits
/// up to `drainTimeout` for them to leave.
public struct WireServer: Service {
    private let serverChannel: NIOAsyncChannel<WireListener.Connection, Never>
    private let parts: AgentSession.Parts
    /// Connections accepted whose TLS handshake is not done, against the cap.
    public let unauthenticated: UnauthenticatedConnections

    /// The address actually bound (the port is chosen by the OS when 0 was asked for).
    public var localAddress: SocketAddress? { self.serverChannel.channel.localAddress }

    static func bind(configuration: ControllerConfiguration, pki: ControllerPKI, parts: AgentSession.Parts) async throws -> WireServer {
        let unauthenticated = UnauthenticatedConnections(limit: configuration.maxUnauthenticatedConnections)
        let channel = try await WireListener.bind(
            host: configuration.listenHost, port: configuration.listenPort, tls: try pki.serverTLS(),
            alpn: TLSPolicy.protocolALPN, session: configuration.session,
            unauthenticated: unauthenticated,
            release: .tlsHandshake, tlsDeadline: configuration.tlsHandshakeTimeout,
            uploads: (parts.backups.writers, parts.backups.counters), logger: parts.logger
        )
        return WireServer(serverChannel: channel, parts: parts, unauthenticated: unauthenticated)
    }

    public func run() async throws {
        self.parts.logger.info("wire server listening", metadata: ["address": "\(self.localAddress?.description ?? "?")"])
        try await withThrowingDiscardingTaskGroup { group in
            try await self.serverChannel.executeThenClose { connections in
                for try await connection in connections.cancelOnGracefulShutdown() {
                    group.addTask { await AgentSession(connection: connection, parts: self.parts).run() }
                }
            }
            self.parts.logger.info("wire server stopped accepting; agents are being sent GOAWAY")
        }
        self.parts.logger.info("wire server stopped")
    }
}
