import Agent
import Controller
import Logging
import NIOCore
import ServiceLifecycle
import TernTestSupport
import Wire

/// Runs `services` in one ServiceGroup while `body` runs, then shuts them down gracefully.
func withServices<R: Sendable>(_ services: [any Service], _ body: () async throws -> R) async throws -> R {
    let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: Logger(label: "test")))
    return try await withThrowingTaskGroup(of: R?.self) { tasks in
        tasks.addTask {
            try await group.run()
            return nil
        }
        let result: Result<R, any Error>
        do {
            result = .success(try await body())
        } catch {
            result = .failure(error)
        }
        await group.triggerGracefulShutdown()
        while let _ = try await tasks.next() {}
        return try result.get()
    }
}

/// A controller on 127.0.0.1 with an OS-chosen port and fast heartbeats.
func makeController(_ directory: TemporaryDirectory, heartbeat: TimeAmount = .milliseconds(200)) async throws -> ControllerApp {
    var configuration = ControllerConfiguration(dataDirectory: directory.appending("controller"))
    configuration.listenPort = 0
    configuration.heartbeatInterval = heartbeat
    configuration.idleTimeout = heartbeat * 5
    configuration.drainTimeout = .seconds(2)
    var logger = Logger(label: "test.controller")
    logger.logLevel = .warning
    return try await ControllerApp.build(configuration: configuration, logger: logger)
}

/// An agent provisioned by `controller` under `name`, linked to it.
func makeAgent(_ name: String, controller: ControllerApp, directory: TemporaryDirectory, status: LinkStatus = LinkStatus()) throws -> ControllerLink {
    let state = directory.appending("agent-\(name)")
    try controller.pki.provisionAgent(name: name, stateDirectory: state)
    var configuration = AgentConfiguration(stateDirectory: state, controllerHost: "127.0.0.1", controllerPort: controller.wireServer.localAddress!.port!)
    configuration.reconnectBase = .milliseconds(50)
    configuration.reconnectCap = .milliseconds(500)
    var logger = Logger(label: "test.agent")
    logger.logLevel = .warning
    return try ControllerLink(configuration: configuration, identity: try AgentIdentity.load(stateDirectory: state), status: status, logger: logger)
}

/// A logger that only reports errors, for peers expected to fail.
func quiet(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .critical
    return logger
}
