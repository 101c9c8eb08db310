import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Platform
import ServiceLifecycle
import Wire

/// The agent's one long-lived connection to the controller: connect, handshake,
/// report; on any failure try the controller's next address, or once every address
/// has failed wait a jittered backoff, and connect again, until shutdown.
public struct ControllerLink: Service {
    let configuration: AgentConfiguration
    let status: LinkStatus
    let logger: Logger

    public init(configuration: AgentConfiguration, status: LinkStatus = LinkStatus(), logger: Logger) {
        self.configuration = configuration
        self.status = status
        self.logger = logger
    }

    public func run() async throws {
        // Work that waits for objects across reconnects runs beside the connection loop,
        // in this task's tree: it ends (cancelled) when the link does.
        let work = BackgroundWork(logger: self.logger, atShutdown: .cancelRunning)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await work.run() }
            try await self.connectAgain(work: work)
            group.cancelAll()
        }
    }

    private func connectAgain(work: BackgroundWork) async throws {
        var backoff = Backoff(base: self.configuration.reconnectBase, cap: self.configuration.reconnectCap)
        var rotation = ControllerRotation(self.configuration.controllers)
        // Host state outlives connections: deltas and alarms continue across reconnects.
        let name = try AgentIdentity.load(stateDirectory: self.configuration.stateDirectory).name
        let reporter = HostReporter(configuration: self.configuration, host: name)
        let transfers = try Transfers(stateDirectory: self.configuration.stateDirectory, stallTimeout: self.configuration.transferStallTimeout, logger: self.logger)
        let outbox = Outbox()
        let deployer = try Deployer(
            configuration: self.configuration, transfers: transfers, outbox: outbox, work: work,
            firmwareInventory: { await reporter.freshInventory() }, logger: self.logger
        )
        let backups = try SiteBackups(
            configuration: self.configuration, site: name, outbox: outbox, work: work, inventory: { await deployer.inventory() }, logger: self.logger
        )
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let startedAt = NIODeadline.now()
            do {
                // Reloaded every time: a renewal replaces the identity on disk.
                let identity = try AgentIdentity.load(stateDirectory: self.configuration.stateDirectory)
                let connection = try await self.connect(identity, to: rotation.current, transfers: transfers)
                let outcome = try await AgentConnection(
                    connection: connection, identity: identity, configuration: self.configuration,
                    reporter: reporter, transfers: transfers, outbox: outbox, deployer: deployer, backups: backups, status: self.status, logger: self.logger
                ).run()
                await outbox.detach()
                await transfers.abandonAll()
                if case .shutdown = outcome { return }
            } catch is CancellationError {
                return
            } catch {
                await outbox.detach()
                await transfers.abandonAll()
                self.logger.warning("controller link failed", metadata: ["controller": "\(rotation.current)", "error": "\(error)"])
            }
            await self.status.disconnected()
            // A connection that stayed up a while was a success: start the backoff over.
            if NIODeadline.now() - startedAt > .seconds(30) {
                backoff.reset()
                rotation.succeeded()
            }
            // Another address is tried after a short jitter (its peers move at the same
            // moment); after a failure at every address, the backoff.
            let delay = rotation.failed()
                ? backoff.next()
                : .nanoseconds(Int64.random(in: 0...self.configuration.reconnectBase.nanoseconds))
            self.logger.info("reconnecting", metadata: [
                "controller": "\(rotation.current)", "in_ms": "\(delay.nanoseconds / 1_000_000)", "attempt": "\(backoff.attempt)",
            ])
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .nanoseconds(delay.nanoseconds)) }
            } catch {
                return
            }
        }
    }

    private func connect(_ identity: AgentIdentity, to controller: ControllerAddress, transfers: Transfers) async throws -> NIOAsyncChannel<TransferEvent, WireCommand> {
        let tls = try NIOSSLContext(configuration: try identity.tls())
        var session = SessionConfiguration(identity: identity.name, software: "tern-agent \(AgentVersion.current)")
        session.features = self.configuration.features
        session.handshakeTimeout = self.configuration.connectTimeout
        session.maxFrameSize = self.configuration.maxFrameSize
        let host = controller.host
        let logger = self.logger
        let status = self.status
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(self.configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        if let source = self.configuration.sourceAddress {
            bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0))
        }
        return try await bootstrap
            .connect(host: host, port: controller.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let serverName = HostPort.isIPLiteral(host) ? nil : host
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    try channel.pipeline.syncOperations.addHandler(WireConnectionHandler(role: .client, configuration: session, logger: logger))
                    try channel.pipeline.syncOperations.addHandler(TransferSink(writers: transfers.writers, counters: status.transfers, logger: logger))
                    return try NIOAsyncChannel<TransferEvent, WireCommand>(wrappingChannelSynchronously: channel)
                }
            }
    }
}
