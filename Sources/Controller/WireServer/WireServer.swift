import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Wire

/// The protocol port: accepts agents over mutual TLS and runs one `AgentSession`
/// per connection, each in its own child task.
///
/// On graceful shutdown it stops accepting, sends GOAWAY to every agent, and waits
/// up to `drainTimeout` for them to leave.
public struct WireServer: Service {
    private let serverChannel: NIOAsyncChannel<NIOAsyncChannel<WireEvent, WireCommand>, Never>
    private let agents: ConnectedAgents
    private let configuration: ControllerConfiguration
    private let logger: Logger

    /// The address actually bound (the port is chosen by the OS when 0 was asked for).
    public var localAddress: SocketAddress? { self.serverChannel.channel.localAddress }

    /// Binds the listener; `run` serves it.
    public static func bind(
        configuration: ControllerConfiguration, tls: TLSConfiguration, agents: ConnectedAgents,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) async throws -> WireServer {
        let context = try NIOSSLContext(configuration: tls)
        let session = configuration.session
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.listenHost, port: configuration.listenPort) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    var connectionLogger = logger
                    connectionLogger[metadataKey: "peer"] = "\(child.remoteAddress?.description ?? "?")"
                    try child.pipeline.syncOperations.addHandler(
                        WireConnectionHandler(role: .server, configuration: session, logger: connectionLogger)
                    )
                    return try NIOAsyncChannel<WireEvent, WireCommand>(wrappingChannelSynchronously: child)
                }
            }
        return WireServer(serverChannel: channel, agents: agents, configuration: configuration, logger: logger)
    }

    public func run() async throws {
        self.logger.info("wire server listening", metadata: ["address": "\(self.localAddress?.description ?? "?")"])
        try await withThrowingDiscardingTaskGroup { group in
            try await self.serverChannel.executeThenClose { connections in
                for try await connection in connections.cancelOnGracefulShutdown() {
                    group.addTask {
                        await AgentSession(connection: connection, agents: self.agents, configuration: self.configuration, logger: self.logger).run()
                    }
                }
            }
            self.logger.info("wire server stopped accepting; agents are being sent GOAWAY")
        }
        self.logger.info("wire server stopped")
    }
}
