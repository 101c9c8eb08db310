import Foundation
import Logging
import ServiceLifecycle
import Wire

/// Marks subclouds offline after `missedHeartbeats` heartbeat intervals of silence,
/// raising a critical alarm; `AgentSession` marks them online and clears it.
struct AvailabilityMonitor: Service {
    let context: ControllerContext

    func run() async throws {
        let subclouds = try await self.context.store.subclouds()
        await self.context.live.graceAll(subclouds.map(\.name), at: Date())
        let period = Duration.nanoseconds(max(self.context.configuration.heartbeatInterval.nanoseconds / 4, 50_000_000))
        while !Task.isShuttingDownGracefully {
            do {
                try await self.check(now: Date())
            } catch {
                self.context.logger.error("availability check failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: period) }
        }
    }

    func check(now: Date) async throws {
        let threshold = Double(self.context.configuration.offlineAfter.nanoseconds) / 1e9
        let lastHeard = await self.context.live.lastHeard
        var online = 0
        var offline = 0
        for subcloud in try await self.context.store.subclouds() {
            guard subcloud.availability == .online else {
                offline += 1
                continue
            }
            let heard = lastHeard[subcloud.name] ?? subcloud.lastSeenAt ?? subcloud.createdAt
            let silence = now.timeIntervalSince(heard)
            guard silence > threshold else {
                online += 1
                continue
            }
            // The agent may have come back since the snapshot: look again right before acting.
            if let latest = await self.context.live.lastHeard[subcloud.name], now.timeIntervalSince(latest) <= threshold {
                online += 1
                continue
            }
            offline += 1
            try await self.context.store.markOffline(subcloud.name, at: now)
            try await self.context.store.raise(FleetAlarms.offline(subcloud.name, silentFor: Int(silence), at: now))
            self.context.logger.warning("subcloud offline", metadata: ["subcloud": "\(subcloud.name)", "silent_s": "\(Int(silence))"])
        }
        self.context.metrics.subcloudsOnline.set(Double(online))
        self.context.metrics.subcloudsOffline.set(Double(offline))
        self.context.metrics.alarmsActive.set(Double(try await self.context.store.alarms(subcloud: nil).count))
    }
}
