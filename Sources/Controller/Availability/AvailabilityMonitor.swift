import Foundation
import Logging
import ServiceLifecycle
import Wire

/// Marks subclouds offline by `OfflineRule`, raising a critical alarm;
/// `AgentSession` marks them online and clears it.
struct AvailabilityMonitor: Service {
    let context: ControllerContext

    func run() async throws {
        let configuration = self.context.configuration
        let rule = OfflineRule(
            offlineAfter: Double(configuration.offlineAfter.nanoseconds) / 1e9,
            disconnectGrace: Double(configuration.disconnectGrace.nanoseconds) / 1e9,
            startupGrace: Double(configuration.startupGrace.nanoseconds) / 1e9,
            startedAt: Date()
        )
        // Often enough that the disconnect grace is kept to within a quarter of itself.
        let period = Duration.nanoseconds(max(min(configuration.heartbeatInterval.nanoseconds, configuration.disconnectGrace.nanoseconds) / 4, 50_000_000))
        while !Task.isShuttingDownGracefully {
            do {
                try await self.check(rule, now: Date())
            } catch {
                self.context.logger.error("availability check failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: period) }
        }
    }

    func check(_ rule: OfflineRule, now: Date) async throws {
        let live = self.context.live
        var online = 0
        var offline = 0
        for subcloud in try await self.context.store.subclouds() {
            guard subcloud.availability == .online else {
                offline += 1
                continue
            }
            let verdict = await live.availability(of: subcloud.name, rule: rule, now: now)
            guard case .offline(let reason, let silentFor) = verdict else {
                online += 1
                continue
            }
            offline += 1
            try await self.context.store.markOffline(subcloud.name, at: now)
            try await self.context.store.raise(FleetAlarms.offline(subcloud.name, reason: reason, at: now))
            self.context.logger.warning("subcloud offline", metadata: ["subcloud": "\(subcloud.name)", "reason": "\(reason)", "silent_s": "\(silentFor)"])
        }
        self.context.metrics.subcloudsOnline.set(Double(online))
        self.context.metrics.subcloudsOffline.set(Double(offline))
        self.context.metrics.alarmsActive.set(Double(try await self.context.store.alarms(subcloud: nil).count))
    }
}
