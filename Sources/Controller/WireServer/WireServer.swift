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
    private let context: ControllerContext

    /// The address actually bound (the port is chosen by the OS when 0 was asked for).
    public var localAddress: SocketAddress? { self.serverChannel.channel.localAddress }

    static func bind(context: ControllerContext) async throws -> WireServer {
        let configuration = context.configuration
        let channel = try await WireListener.bind(
            host: configuration.listenHost, port: configuration.listenPort, tls: try context.pki.serverTLS(),
            alpn: TLSPolicy.protocolALPN, session: configuration.session,
            unauthenticated: UnauthenticatedConnections(limit: configuration.maxUnauthenticatedConnections),
            release: .tlsHandshake, tlsDeadline: configuration.tlsHandshakeTimeout, logger: context.logger
        )
        return WireServer(serverChannel: channel, context: context)
    }

    public func run() async throws {
        self.context.logger.info("wire server listening", metadata: ["address": "\(self.localAddress?.description ?? "?")"])
        try await withThrowingDiscardingTaskGroup { group in
            try await self.serverChannel.executeThenClose { connections in
                for try await connection in connections.cancelOnGracefulShutdown() {
                    group.addTask { await AgentSession(connection: connection, context: self.context).run() }
                }
            }
            self.context.logger.info("wire server stopped accepting; agents are being sent GOAWAY")
        }
        self.context.logger.info("wire server stopped")
    }
}
