import Logging
import NIOConcurrencyHelpers
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
        let sessions = NIOLockedValueBox(0)
        do {
            try await withThrowingDiscardingTaskGroup { group in
                try await self.serverChannel.executeThenClose { connections in
                    for try await connection in connections.cancelOnGracefulShutdown() {
                        sessions.withLockedValue { $0 += 1 }
                        group.addTask {
                            await AgentSession(connection: connection, parts: self.parts).run()
                            sessions.withLockedValue { $0 -= 1 }
                        }
                    }
                }
                try await self.drain(sessions, group: &group)
            }
        } catch is DrainTimedOut {
            self.parts.logger.info("drain timeout: the connections left were closed")
        }
        self.parts.logger.info("wire server stopped")
    }

    private struct DrainTimedOut: Error {}

    /// After the listener closed at shutdown: GOAWAY to every agent, once, from here
    /// (not a shutdown waiter in every session), then `drainTimeout` for them to
    /// finish and leave; the sessions still running then are cancelled.
    private func drain(_ sessions: NIOLockedValueBox<Int>, group: inout ThrowingDiscardingTaskGroup<any Error>) async throws {
        let writers = await self.parts.live.allWriters
        self.parts.logger.info("wire server stopped accepting; agents are being sent GOAWAY", metadata: ["agents": "\(writers.count)"])
        // Each write in its own child: a stuck peer's full buffer holds up only its own.
        for writer in writers {
            group.addTask { try? await writer.write(.goAway(.noError, reason: "controller shutting down")) }
        }
        let deadline = ContinuousClock.now + .nanoseconds(self.parts.drainTimeout.nanoseconds)
        while sessions.withLockedValue({ $0 }) > 0 {
            guard ContinuousClock.now < deadline else { throw DrainTimedOut() }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
