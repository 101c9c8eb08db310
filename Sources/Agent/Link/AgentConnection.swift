import Logging
import NIOCore
import ServiceLifecycle
import Wire

/// One connection's life on the agent: wait for WELCOME, then heartbeat every
/// negotiated interval until the connection ends.
struct AgentConnection {
    enum Outcome {
        /// The connection ended; reconnect.
        case lost
        /// Shutdown was requested; stop.
        case shutdown
    }

    let connection: NIOAsyncChannel<WireEvent, WireCommand>
    let identity: AgentIdentity
    let status: LinkStatus
    let logger: Logger

    func run() async throws -> Outcome {
        try await self.connection.executeThenClose { events, commands in
            try await withThrowingTaskGroup(of: Outcome.self) { group in
                let (intervals, intervalContinuation) = AsyncStream<TimeAmount>.makeStream()
                group.addTask {
                    defer { intervalContinuation.finish() }
                    for try await event in events {
                        if case .goAway(let goAway) = event {
                            // Nothing in flight yet that must finish: leave now and come back after backoff.
                            self.logger.info("controller sent GOAWAY; reconnecting later", metadata: ["code": "\(goAway.code)", "reason": "\(goAway.reason)"])
                            return .lost
                        }
                        try await self.handle(event, intervals: intervalContinuation)
                    }
                    return .lost
                }
                group.addTask {
                    // Heartbeats start once WELCOME has said how often.
                    for await interval in intervals {
                        var sequence: UInt64 = 0
                        while !Task.isCancelled {
                            sequence += 1
                            try await commands.write(.message(.heartbeat(Heartbeat(sequence: sequence, sentAtMillis: WallClock.millis()))))
                            try await Task.sleep(for: .nanoseconds(interval.nanoseconds))
                        }
                    }
                    return .lost
                }
                group.addTask {
                    try await gracefulShutdown()
                    return .shutdown
                }
                let outcome = try await group.next() ?? .lost
                group.cancelAll()
                return outcome
            }
        }
    }

    private func handle(_ event: WireEvent, intervals: AsyncStream<TimeAmount>.Continuation) async throws {
        switch event {
        case .established(let negotiated):
            self.logger.info("connected to controller", metadata: [
                "controller": "\(negotiated.peerIdentity)", "version": "\(negotiated.version)",
                "heartbeat_ms": "\(negotiated.heartbeatInterval.nanoseconds / 1_000_000)",
            ])
            await self.status.connected(negotiated)
            intervals.yield(negotiated.heartbeatInterval)
        case .roundTrip(let value):
            await self.status.roundTrip(value)
        default:
            break
        }
    }
}

/// Unix time in milliseconds.
enum WallClock {
    static func millis() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1000 + UInt64(spec.tv_nsec) / 1_000_000
    }
}

#if canImport(Glibc)
import Glibc
#endif
