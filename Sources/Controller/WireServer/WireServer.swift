import Logging
import NIOCore
import Platform
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
        // Agents' connections stop being accepted a reserve short of the descriptor limit.
        let descriptors = DescriptorLimit.raise()
        let openLimit = configuration.maxConnections ?? DescriptorLimit.connections(within: descriptors)
        let unauthenticated = UnauthenticatedConnections(limit: configuration.maxUnauthenticatedConnections, openLimit: openLimit)
        parts.logger.info("agent connections accepted", metadata: [
            "at_most": "\(openLimit == .max ? "unbounded" : String(openLimit))", "descriptor_limit": "\(descriptors)",
        ])
        let channel = try await WireListener.bind(
            host: configuration.listenHost, port: configuration.listenPort, tls: try pki.serverTLS(),
            alpn: TLSPolicy.protocolALPN, session: configuration.session,
            unauthenticated: unauthenticated,
            release: .tlsHandshake, tlsDeadline: configuration.tlsHandshakeTimeout,
            uploads: (parts.backups.writers, parts.backups.counters), logger: parts.logger
        )
        return WireServer(serverChannel: channel, parts: parts, unauthenticated: unauthenticated)
    }

    /// Sessions run in this many task groups, not one: a task group finds a finished
    /// child by walking its list of children, so one group of 20,000 sessions made every
    /// disconnect walk 20,000 tasks, and a mass disconnect (a shutdown, a partition)
    /// quadratic — minutes of CPU at 20,000 agents.
    static let sessionGroups = 64

    public func run() async throws {
        self.parts.logger.info("wire server listening", metadata: ["address": "\(self.localAddress?.description ?? "?")"])
        let open = OpenConnections()
        let shards = (0..<Self.sessionGroups).map { _ in AsyncStream<WireListener.Connection>.makeStream() }
        do {
            try await withThrowingDiscardingTaskGroup { group in
                for shard in shards {
                    group.addTask {
                        await withDiscardingTaskGroup { sessions in
                            for await connection in shard.stream {
                                sessions.addTask {
                                    await AgentSession(connection: connection, parts: self.parts).run()
                                    open.closed(connection.channel)
                                }
                            }
                        }
                    }
                }
                var accepted = 0
                try await self.serverChannel.executeThenClose { connections in
                    for try await connection in connections.cancelOnGracefulShutdown() {
                        open.opened(connection.channel)
                        shards[accepted % shards.count].continuation.yield(connection)
                        accepted &+= 1
                    }
                }
                for shard in shards { shard.continuation.finish() }
                try await self.drain(open)
            }
        } catch is DrainTimedOut {
            self.parts.logger.info("drain timeout: the connections left were closed")
        }
        self.parts.logger.info("wire server stopped")
    }

    private struct DrainTimedOut: Error {}

    /// After the listener closed at shutdown: GOAWAY to every agent, once, from here
    /// (not a shutdown waiter in every session, nor a task per write), then
    /// `drainTimeout` for them to finish and leave; the sessions still running then
    /// are cancelled (thrown out of the task group's body).
    private func drain(_ open: OpenConnections) async throws {
        let told = open.broadcast(.goAway(.noError, reason: "controller shutting down"))
        self.parts.logger.info("wire server stopped accepting; agents were sent GOAWAY", metadata: ["connections": "\(told)"])
        let deadline = ContinuousClock.now + .nanoseconds(self.parts.drainTimeout.nanoseconds)
        while open.count > 0 {
            guard ContinuousClock.now < deadline else { throw DrainTimedOut() }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
