import Logging
import NIOCore
import ServiceLifecycle
import Wire

/// The controller's side of one agent connection.
struct AgentSession {
    let connection: NIOAsyncChannel<WireEvent, WireCommand>
    let agents: ConnectedAgents
    let configuration: ControllerConfiguration
    let logger: Logger

    /// Runs until the agent leaves, the connection fails, or shutdown has drained it.
    /// Errors end this connection only.
    func run() async {
        do {
            try await self.connection.executeThenClose { events, commands in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await self.handle(events)
                    }
                    group.addTask {
                        // On SIGTERM: GOAWAY, then give the agent `drainTimeout` to finish and leave.
                        try await gracefulShutdown()
                        try await commands.write(.goAway(.noError, reason: "controller shutting down"))
                        try await Task.sleep(for: .nanoseconds(self.configuration.drainTimeout.nanoseconds))
                        throw CancellationError()
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
            self.logger.debug("connection closed at shutdown")
        } catch {
            self.logger.info("connection ended", metadata: ["error": "\(error)"])
        }
    }

    private func handle(_ events: NIOAsyncChannelInboundStream<WireEvent>) async throws {
        var name: String?
        var generation = 0
        do {
            try await self.process(events, name: &name, generation: &generation)
        } catch {
            if let name { await self.left(name, generation: generation) }
            throw error
        }
        if let name { await self.left(name, generation: generation) }
    }

    private func left(_ name: String, generation: Int) async {
        await self.agents.disconnected(name, generation: generation)
        self.logger.info("agent disconnected", metadata: ["subcloud": "\(name)"])
    }

    private func process(_ events: NIOAsyncChannelInboundStream<WireEvent>, name: inout String?, generation: inout Int) async throws {
        for try await event in events {
            switch event {
            case .established(let negotiated):
                name = negotiated.peerIdentity
                generation = await self.agents.connected(negotiated, now: .now())
                self.logger.info("agent connected", metadata: [
                    "subcloud": "\(negotiated.peerIdentity)", "software": "\(negotiated.peerSoftware)",
                    "version": "\(negotiated.version)", "features": "\(negotiated.features.sorted())",
                ])
            case .message(_, .heartbeat(let heartbeat), _):
                guard let name else { continue }
                await self.agents.heartbeat(name, heartbeat)
                self.logger.debug("heartbeat", metadata: ["subcloud": "\(name)", "sequence": "\(heartbeat.sequence)"])
            case .roundTrip(let value):
                if let name { await self.agents.roundTrip(name, value) }
            case .goAway(let goAway):
                self.logger.info("agent going away", metadata: ["code": "\(goAway.code)", "reason": "\(goAway.reason)"])
            default:
                break
            }
        }
    }
}
