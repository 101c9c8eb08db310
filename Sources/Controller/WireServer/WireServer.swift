import Logging
import NIOCore
import Platform
import ServiceLifecycle
import Wire

/// The protocol port: accepts agents over mutual TLS; each connection's pipeline ends
/// in an `AgentSessionHandler` driving its `AgentSession`. No task per connection: a
/// session's async work runs in `SessionWork`'s groups, only while it has some.
///
/// On graceful shutdown it stops accepting, sends GOAWAY to every agent, and waits
/// up to `drainTimeout` for them to leave; then closes the rest.
public struct WireServer: Service {
    private let serverChannel: NIOAsyncChannel<Void, Never>
    private let server: AgentSession.Server
    /// Connections accepted whose TLS handshake is not done, against the cap.
    public let unauthenticated: UnauthenticatedConnections

    private var parts: AgentSession.Parts { self.server.parts }

    /// The address actually bound (the port is chosen by the OS when 0 was asked for).
    public var localAddress: SocketAddress? { self.serverChannel.channel.localAddress }

    static func bind(configuration: ControllerConfiguration, pki: ControllerPKI, parts: AgentSession.Parts) async throws -> WireServer {
        // Agents' connections stop being accepted a reserve short of the descriptor limit.
        let descriptors = DescriptorLimit.raise()
        let openLimit = configuration.maxConnections ?? DescriptorLimit.connections(within: descriptors)
        let unauthenticated = UnauthenticatedConnections(limit: configuration.maxUnauthenticatedConnections, openLimit: openLimit)
        parts.logger.info("agent connections accepted", metadata: [
            "at_most": "\(openLimit == .max ? "unbounded" : String(openLimit))", "descriptor_limit": "\(descriptors)",
        ])
        let server = AgentSession.Server(parts: parts, work: SessionWork(), open: OpenConnections())
        let channel = try await WireListener.bind(
            host: configuration.listenHost, port: configuration.listenPort, tls: try pki.serverTLS(),
            alpn: TLSPolicy.protocolALPN, session: configuration.session,
            unauthenticated: unauthenticated,
            release: .tlsHandshake, tlsDeadline: configuration.tlsHandshakeTimeout,
            uploads: (parts.backups.writers, parts.backups.counters), logger: parts.logger
        ) { child in
            try child.pipeline.syncOperations.addHandler(AgentSessionHandler(session: AgentSession(channel: child, server: server)))
        }
        return WireServer(serverChannel: channel, server: server, unauthenticated: unauthenticated)
    }

    public func run() async throws {
        self.parts.logger.info("wire server listening", metadata: ["address": "\(self.localAddress?.description ?? "?")"])
        let work = self.server.work
        do {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await work.run() }
                try await self.serverChannel.executeThenClose { connections in
                    // Each connection set itself up in its pipeline; here they are only counted off.
                    for try await _ in connections.cancelOnGracefulShutdown() {}
                }
                try await self.drain(self.server.open)
                work.finish()
            }
        } catch is DrainTimedOut {
            self.parts.logger.info("drain timeout: the connections left were closed")
        }
        self.parts.logger.info("wire server stopped")
    }

    private struct DrainTimedOut: Error {}

    /// After the listener closed at shutdown: GOAWAY to every agent, once, from here
    /// (not a task per write), then `drainTimeout` for them to finish and leave; the
    /// connections still open then are closed, and their sessions get a moment to
    /// record it before the ones still busy are cancelled (thrown out of the task group).
    private func drain(_ open: OpenConnections) async throws {
        let told = open.broadcast(.goAway(.noError, reason: "controller shutting down"))
        self.parts.logger.info("wire server stopped accepting; agents were sent GOAWAY", metadata: ["connections": "\(told)"])
        if try await Self.until(open.count == 0, within: self.parts.drainTimeout) { return }
        let closed = open.closeAll()
        self.parts.logger.info("drain timeout: closing the connections left", metadata: ["connections": "\(closed)"])
        if try await Self.until(open.count == 0, within: .seconds(2)) { return }
        throw DrainTimedOut()
    }

    /// Polls `condition` every 50 ms for up to `timeout`; whether it came true.
    private static func until(_ condition: @autoclosure () -> Bool, within timeout: TimeAmount) async throws -> Bool {
        let deadline = ContinuousClock.now + .nanoseconds(timeout.nanoseconds)
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(50))
        }
        return true
    }
}
