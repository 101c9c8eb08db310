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
        let replicated = self.leadership.isReplicated
        // A replica without the lease judges only the sites it holds or held: it reads
        // their presence and the fleet's counts, not every subcloud each period.
        if replicated, !self.leadership.isLeader {
            return try await self.checkHeld(rule, now: now)
        }
        var online = 0
        var offline = 0
        // Three columns per subcloud, not whole rows: this runs every period.
        var sites: [(name: String, lastSeenAt: Date?)] = []
        for (name, presence) in try await self.store.presence() {
            if presence.online { sites.append((name, presence.lastSeenAt)) } else { offline += 1 }
        }
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
            try await self.markOffline(name, reason: reason, silentFor: silentFor, now: now)
        }
        self.metrics.subcloudsOnline.set(Double(online))
        self.metrics.subcloudsOffline.set(Double(offline))
        self.metrics.alarmsActive.set(Double(try await self.store.activeAlarmCount()))
    }

    /// The sweep of a replica that does not hold the lease: its own sites' verdicts
    /// (`LiveFleet.localAvailability`), the counts from the database.
    func checkHeld(_ rule: OfflineRule, now: Date) async throws {
        var sites: [(name: String, lastSeenAt: Date?)] = []
        for (name, presence) in try await self.store.presence(of: await self.live.judgedNames) where presence.online {
            sites.append((name, presence.lastSeenAt))
        }
        let verdicts = await self.live.verdicts(for: sites, replicated: true, rule: rule, now: now)
        for (site, verdict) in zip(sites, verdicts) {
            guard case .offline(let reason, let silentFor)? = verdict else { continue }
            try await self.markOffline(site.name, reason: reason, silentFor: silentFor, now: now)
        }
        let counts = try await self.store.availabilityCounts()
        self.metrics.subcloudsOnline.set(Double(counts.online))
        self.metrics.subcloudsOffline.set(Double(counts.offline))
        self.metrics.alarmsActive.set(Double(try await self.store.activeAlarmCount()))
    }

    private func markOffline(_ name: String, reason: String, silentFor: Int, now: Date) async throws {
        try await self.store.markOffline(name, at: now)
        try await self.store.raise(FleetAlarms.offline(name, reason: reason, at: now))
        self.logger.warning("subcloud offline", metadata: ["subcloud": "\(name)", "reason": "\(reason)", "silent_s": "\(silentFor)"])
    }
}
