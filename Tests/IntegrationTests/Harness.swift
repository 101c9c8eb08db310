import Agent
import Controller
import Foundation
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

/// A controller on 127.0.0.1 with OS-chosen ports and fast heartbeats.
func makeController(
    _ directory: TemporaryDirectory, heartbeat: TimeAmount = .milliseconds(200), certificateValidity: TimeAmount = .hours(720),
    configure: (inout ControllerConfiguration) -> Void = { _ in }
) async throws -> ControllerApp {
    var configuration = ControllerConfiguration(dataDirectory: directory.appending("controller"))
    configuration.certificateValidity = certificateValidity
    configuration.listenPort = 0
    configuration.enrolPort = 0
    configuration.apiPort = 0
    configuration.heartbeatInterval = heartbeat
    configuration.drainTimeout = .seconds(2)
    configure(&configuration)
    return try await ControllerApp.build(configuration: configuration, logger: quiet("test.controller"))
}

/// An agent registered and provisioned by `controller` under `name` (skipping the
/// enrolment exchange, which has tests of its own), linked to it.
func makeAgent(
    _ name: String, controller: ControllerApp, directory: TemporaryDirectory, status: LinkStatus = LinkStatus(),
    validity: TimeInterval = 30 * 86_400, via proxyPort: Int? = nil
) async throws -> ControllerLink {
    let state = directory.appending("agent-\(name)")
    let port = proxyPort ?? controller.wireServer.localAddress!.port!
    try await controller.provisionAgent(name, stateDirectory: state, controller: "127.0.0.1:\(port)", validity: validity)
    var configuration = AgentConfiguration(stateDirectory: state, controllerHost: "127.0.0.1", controllerPort: port)
    configuration.reconnectBase = .milliseconds(50)
    configuration.reconnectCap = .milliseconds(500)
    configuration.useFwupd = false
    return ControllerLink(configuration: configuration, status: status, logger: quiet("test.agent"))
}

/// A logger that only reports critical errors, for peers expected to fail.
func quiet(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .critical
    return logger
}
