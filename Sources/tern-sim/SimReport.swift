import Agent
import Foundation
import NIOCore
import ServiceLifecycle

/// Prints one line a second: agents connected, heartbeats per second, reconnects,
/// keepalive round-trip p50/p99 over the last second. With `--churn`, drops that
/// many connections a minute (the agents reconnect through their backoff).
///
/// Reads the fleet's shared `LinkCounters` once a second, not every agent (a hop onto
/// each agent's status actor fell seconds behind at 16,667 agents).
struct SimReport: Service {
    let agents: [SimFleet.Agent]
    let counters: LinkCounters
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
            let connected = self.counters.connected
            let connections = self.counters.connections
            let heartbeats = self.counters.heartbeats
            let roundTrips = self.counters.take().sorted()
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
