import Agent
import ArgumentParser
import Foundation
import Logging
import Platform
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// `tern-sim`: a fleet of virtual agents in one process, each with its own key,
/// certificate (enrolled through the real enrolment path once, then kept in the
/// state directory), TLS connection and the real agent code (`ControllerLink`):
/// HELLO, heartbeats with health that differs per agent, firmware inventory,
/// alarms, config applied into each agent's own directory.
@main
struct TernSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tern-sim",
        abstract: "Simulate a fleet of Tern agents in one process against a running controller.",
        discussion: """
            Subclouds PREFIX00000… that do not exist are added through the API and enrolled once;
            their identities stay in --state, so a restart reconnects at once. Several processes can
            share a fleet with --first (this box caps a process at 20,000 descriptors).
            """
    )

    @Option(help: "The controller's data directory (its API address and token are read from there).") var data: String?
    @Option(help: "The controller's API URL, instead of --data.") var api: String?
    @Option(help: "The API token, with --api.") var token: String?
    @Option(help: "Agents to run.") var count: Int
    @Option(help: "Subcloud name prefix.") var prefix = "sim-"
    @Option(help: "The index of this process's first agent (for several processes).") var first = 0
    @Option(help: "Where identities, config and fixtures are kept.") var state = "tern-sim-state"
    @Option(help: "Seconds between heartbeats (never less often than the controller's interval).") var heartbeat: Double?
    @Option(help: "Agents whose connection is dropped (and comes back) per minute.") var churn = 0.0
    @Option(help: "Source addresses for the connections, spread over this IPv4 network.") var from = "127.0.0.0/8"
    @Option(help: "Enrolments at once while provisioning.") var enrolParallel = 16
    @Option(help: "Stop after this many seconds (default: until SIGINT/SIGTERM).") var seconds: Double?

    func validate() throws {
        guard self.count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard (self.data == nil) != (self.api == nil) else { throw ValidationError("give --data DIR, or --api URL with --token T") }
        if self.api != nil, self.token == nil { throw ValidationError("--api needs --token") }
        _ = try SourceAddresses(self.from)
        if let heartbeat, heartbeat <= 0 { throw ValidationError("--heartbeat must be positive") }
        guard self.churn >= 0 else { throw ValidationError("--churn must not be negative") }
    }

    func run() async throws {
        let limit = DescriptorLimit.raise()
        var logger = Logger(label: "tern-sim")
        logger.logLevel = .warning
        let names = (self.first..<(self.first + self.count)).map { String(format: "\(self.prefix)%05d", $0) }
        let api = try SimAPI(data: self.data, url: self.api, token: self.token)
        let fleet = SimFleet(api: api, root: self.state, logger: logger)
        let started = ContinuousClock.now
        let provisioned = try await fleet.provision(names, parallel: self.enrolParallel)
        print("tern-sim: \(names.count) agents ready (\(provisioned) enrolled now) in \(ContinuousClock.now - started); descriptor limit \(limit)")
        fflush(nil)

        let sources = try SourceAddresses(self.from)
        let agents = try names.enumerated().map { index, name in
            try fleet.agent(name, variant: index, source: sources.address(self.first + index), heartbeat: self.heartbeat.map { .milliseconds(Int64($0 * 1000)) })
        }
        let report = SimReport(agents: agents, counters: fleet.counters, churn: self.churn)
        let services: [any Service] = agents.map(\.service) + [report]
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            if let seconds = self.seconds {
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                await group.triggerGracefulShutdown()
            }
            try await tasks.waitForAll()
        }
    }
}
