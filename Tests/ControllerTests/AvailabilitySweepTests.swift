import Foundation
import Logging
import NIOCore
import TernTestSupport
import Testing
@testable import Wire
@testable import Controller

/// The availability sweep of a replica that does not hold the lease: it reads only the
/// sites it holds or held, marks those by its own verdicts, and leaves every other site
/// to the lease holder.
@Suite struct AvailabilitySweepTests {
    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    static func negotiated(_ name: String) -> Negotiated {
        Negotiated(version: 1, peerIdentity: name, peerSoftware: "tern-agent test", features: [], peerMaxFrameSize: 1 << 16,
                   heartbeatInterval: .seconds(10), idleTimeout: .seconds(40), peerMaxStreams: 16, peerCertificateSerial: nil)
    }

    @Test("a replica without the lease marks offline the site whose connection it lost and the silent one it holds, and no other", arguments: StoreFixture.kinds)
    func heldOnly(_ kind: StoreFixture.Kind) async throws {
        let fixture = try await StoreFixture(kind)
        defer { fixture.remove() }
        let store = try await fixture.open()
        let t0 = Self.t0
        // Many sites, so the read of held sites goes over more than one slice of names.
        let elsewhere = (0..<600).map { String(format: "elsewhere-%03d", $0) }
        let names = ["lost", "silent", "beating"] + elsewhere
        for name in names {
            _ = try await store.createSubcloud(name: name, group: "Default", description: "", token: BootstrapToken.Record(hash: name, expiresAt: t0.addingTimeInterval(3600)), at: t0)
            // Last recorded long ago: a lease holder's shared verdict would call the others offline.
            try await store.markOnline(name, software: "tern-agent test", at: t0.addingTimeInterval(1))
        }
        let live = LiveFleet()
        for name in ["silent", "beating"] { _ = await live.connected(Self.negotiated(name), at: t0.addingTimeInterval(2)) }
        let lost = await live.connected(Self.negotiated("lost"), at: t0.addingTimeInterval(2)).generation
        await live.disconnected("lost", generation: lost, at: t0.addingTimeInterval(3))
        live.heard("beating", at: t0.addingTimeInterval(95), heartbeat: true)

        let leadership = Leadership(store: store, replica: "b", logger: Logger(label: "test"))
        #expect(leadership.isReplicated && !leadership.isLeader)
        let monitor = AvailabilityMonitor(
            store: store, live: live, configuration: ControllerConfiguration(dataDirectory: "/unused"), metrics: ControllerMetrics(),
            leadership: leadership, logger: Logger(label: "test")
        )
        let rule = OfflineRule(offlineAfter: 30, disconnectGrace: 10, startupGrace: 60, startedAt: t0)
        try await monitor.check(rule, now: t0.addingTimeInterval(100))

        let presence = try await store.presence()
        #expect(presence["lost"]?.online == false, "the site whose connection closed here 97 s ago")
        #expect(presence["silent"]?.online == false, "the site held here but silent for 98 s")
        #expect(presence["beating"]?.online == true)
        #expect(elsewhere.allSatisfy { presence[$0]?.online == true }, "a site held by no one here is the lease holder's to judge")
        let counts = try await store.availabilityCounts()
        #expect(counts.online == 601 && counts.offline == 2)
        let some = try await store.presence(of: ["beating", "elsewhere-599", "no-such-site"] + elsewhere.prefix(520))
        #expect(some.count == 522 && some["no-such-site"] == nil && some["elsewhere-599"]?.online == true)
    }
}
