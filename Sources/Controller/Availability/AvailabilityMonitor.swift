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
        var sites: [(name: String, lastSeenAt: Date?)] = []
        for (name, presence) in try await self.store.presence() {
            if presence.online { sites.append((name, presence.lastSeenAt)) } else { offline += 1 }
        }
        let replicated = self.leadership.isReplicated
        let local = await live.verdicts(for: sites, replicated: replicated, rule: rule, now: now)
        for (site, localVerdict) in zip(sites, local) {
            let name = site.name
            let verdict: OfflineRule.Verdict
            if let localVerdict {
                verdict = localVerdict
            } else if replicated, self.leadership.isLeader {
                verdict = rule.sharedVerdict(lastSeen: site.lastSeenAt, seenPeriod: Self.seenPeriod(self.configuration), now: now)
            } else {
                verdict = .online
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
        self.metrics.alarmsActive.set(Double(try await self.store.activeAlarmCount()))
    }
}
