import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Wire

/// The controller, assembled from its configuration: the same builder serves the
/// `tern-controller serve` command and the tests.
public struct ControllerApp: Sendable {
    public let configuration: ControllerConfiguration
    public let pki: ControllerPKI
    public let agents: ConnectedAgents
    public let wireServer: WireServer

    /// Creates the data directory and PKI if needed, and binds the listeners.
    public static func build(configuration: ControllerConfiguration, logger: Logger) async throws -> ControllerApp {
        try AtomicFile.makeDirectory(configuration.dataDirectory, mode: 0o700)
        let pki = try ControllerPKI.loadOrCreate(dataDirectory: configuration.dataDirectory, serverNames: configuration.serverNames)
        let agents = ConnectedAgents()
        let wireServer = try await WireServer.bind(configuration: configuration, tls: try pki.serverTLS(), agents: agents, logger: logger)
        return ControllerApp(configuration: configuration, pki: pki, agents: agents, wireServer: wireServer)
    }

    /// Every long-running part, in dependency order, for one `ServiceGroup`.
    public var services: [any Service] { [self.wireServer] }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    public func run(logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: self.services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
