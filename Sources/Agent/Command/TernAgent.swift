import Agent
import ArgumentParser
import Logging
import NIOCore
import ServiceLifecycle
import Wire

@main
struct TernAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tern-agent",
        abstract: "The Tern edge agent: one long-lived connection to the controller.",
        version: AgentVersion.current,
        subcommands: [Run.self]
    )
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Connect to the controller and stay connected until SIGTERM.")

    @Option(help: "The controller's wire address, HOST:PORT.")
    var controller: String

    @Option(help: "The agent's state directory (key, certificates).")
    var state: String = "/var/lib/tern-agent"

    @Option(help: "Longest reconnect delay in seconds.")
    var reconnectCap: Int = 60

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = self.logLevel
            return handler
        }
        let identity = try AgentIdentity.load(stateDirectory: self.state)
        var logger = Logger(label: "tern.agent")
        logger[metadataKey: "subcloud"] = "\(identity.name)"
        let (host, port) = try HostPort.parse(self.controller)
        var configuration = AgentConfiguration(stateDirectory: self.state, controllerHost: host, controllerPort: port)
        configuration.reconnectCap = .seconds(Int64(self.reconnectCap))
        let link = try ControllerLink(configuration: configuration, identity: identity, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: link)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
