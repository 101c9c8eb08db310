import Agent
import Foundation
import NIOCore
import ServiceLifecycle

/// Prints one line a second: agents connected, heartbeats per second, reconnects,
/// keepalive round-trip p50/p99 over the last second. With `--churn`, drops that
/// many connections a minute (the agents reconnect through their backoff).
struct SimReport: Service {
    let agents: [SimFleet.Agent]
    let churn: Double

    func run() async throws {
        let start = ContinuousClock.now
        var lastHeartbeats = 0
        var churnDebt = 0.0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            } catch {
                return
            }
            var connected = 0
            var connections = 0
            var heartbeats = 0
            var roundTrips: [TimeAmount] = []
            for agent in self.agents {
                if await agent.status.isConnected { connected += 1 }
                connections += await agent.status.connections
                heartbeats += agent.status.counters.heartbeats
                roundTrips += agent.status.counters.take()
            }
            roundTrips.sort()
            func percentile(_ p: Double) -> String {
                guard !roundTrips.isEmpty else { return "-" }
                let value = roundTrips[min(roundTrips.count - 1, Int((Double(roundTrips.count - 1) * p).rounded()))]
                return String(format: "%.1f ms", Double(value.nanoseconds) / 1e6)
            }
            // Every agent's first connection is not a reconnect.
            let reconnects = max(0, connections - self.agents.count)
            let elapsed = Double((ContinuousClock.now - start).components.seconds)
            print(String(
                format: "t=%4.0fs connected %d/%d  hb/s %d  reconnects %d  rtt p50 %@ p99 %@ (%d samples)",
                elapsed, connected, self.agents.count, heartbeats - lastHeartbeats, reconnects, percentile(0.5), percentile(0.99), roundTrips.count
            ))
            fflush(nil)
            lastHeartbeats = heartbeats
            if self.churn > 0 {
                churnDebt += self.churn / 60
                while churnDebt >= 1 {
                    churnDebt -= 1
                    await self.agents.randomElement()?.status.dropConnection()
                }
            }
        }
    }
}
