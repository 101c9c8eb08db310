import Foundation
import Logging
import ServiceLifecycle
import Wire

/// Marks subclouds offline by `OfflineRule`, raising a critical alarm;
/// `AgentSession` marks them online and clears it.
struct AvailabilityMonitor: Service {
    let store: any SubcloudStore & AlarmStore & StrategyStore
    let live: LiveFleet
    let configuration: ControllerConfiguration
    let metrics: ControllerMetrics
    /// With replicas, sites no replica here judges are the lease holder's to sweep.
    let leadership: Leadership
    let logger: Logger

    func run() async throws {
        let configuration = self.configuration
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
                self.logger.error("availability check failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: period) }
        }
    }

    /// How often replicas record the sites they hold: a third of the offline limit.
    static func seenPeriod(_ configuration: ControllerConfiguration) -> TimeInterval {
        max(1, Double(configuration.offlineAfter.nanoseconds) / 3e9)
    }

    func check(_ rule: OfflineRule, now: Date) async throws {
        let live = self.live
        var online = 0
        var offline = 0
        // Three columns per subcloud, not whole rows: this runs every period.
        for (name, presence) in try await self.store.presence() {
            guard presence.online else {
                offline += 1
                continue
            }
            let verdict: OfflineRule.Verdict
            if self.leadership.isReplicated {
                if let local = await live.localAvailability(of: name, seenElsewhere: presence.lastSeenAt, rule: rule, now: now) {
                    verdict = local
                } else if self.leadership.isLeader {
                    verdict = rule.sharedVerdict(lastSeen: presence.lastSeenAt, seenPeriod: Self.seenPeriod(self.configuration), now: now)
                } else {
                    verdict = .online
                }
            } else {
                verdict = await live.availability(of: name, rule: rule, now: now)
            }
            guard case .offline(let reason, let silentFor) = verdict else {
                online += 1
                continue
            }
            offline += 1
            try await self.store.markOffline(name, at: now)
            try await self.store.raise(FleetAlarms.offline(name, reason: reason, at: now))
            self.logger.warning("subcloud offline", metadata: ["subcloud": "\(name)", "reason": "\(reason)", "silent_s": "\(silentFor)"])
        }
        self.metrics.subcloudsOnline.set(Double(online))
        self.metrics.subcloudsOffline.set(Double(offline))
        self.metrics.alarmsActive.set(Double(try await self.store.alarms(subcloud: nil).count))
    }
}
