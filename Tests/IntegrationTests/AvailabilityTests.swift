import Foundation
import TernTestSupport
import Testing

/// Offline detection with the shipped binaries (issue 7, items 15 and 16).
@Suite(.serialized) struct AvailabilityTests {
    @Test("with default heartbeats (10 s x 3), an agent killed with -9 is offline within 15 s; one that comes back within the grace never flaps")
    func deadSiteNoticedFast() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController(heartbeat: 10, missed: 3)
            #expect(try await fleet.enrolAndStart(["edge-01", "edge-02"]))
            // edge-02 restarts at once: back long before the 10 s grace.
            fleet.agents["edge-02"]!.signal(SIGKILL)
            try fleet.startAgent("edge-02")
            // edge-01 dies for good.
            fleet.agents["edge-01"]!.signal(SIGKILL)
            let killedAt = ContinuousClock.now
            let offline = await eventually(timeout: .seconds(20), every: .milliseconds(200)) {
                let alarms = (try? await fleet.json(["alarm", "list", "--subcloud", "edge-01"])) as? [[String: Any]] ?? []
                return alarms.contains { $0["alarmID"] as? String == "280.001" && ($0["reason"] as? String)?.contains("connection lost") == true }
            }
            let detection = ContinuousClock.now - killedAt
            #expect(offline)
            #expect(detection <= .seconds(15), "offline alarm after \(detection)")
            print("offline detection after kill -9 with defaults: \(detection)")
            let events = try await fleet.json(["event", "list"]) as? [[String: Any]] ?? []
            #expect(!events.contains { $0["subcloud"] as? String == "edge-02" && $0["kind"] as? String == "offline" }, "edge-02 flapped")
        }
    }

    @Test("a controller outage longer than the agents' backoff raises no false offline alarm after the restart")
    func noFalseOfflineAfterOutage() async throws {
        try await ProcessFleet.with { fleet in
            // Agents back off up to 4 s here (60 s in production); the startup grace covers it.
            try await fleet.startController(heartbeat: 1, missed: 2, extra: ["--startup-grace", "8"])
            let names = (1...8).map { String(format: "edge-%02d", $0) }
            #expect(try await fleet.enrolAndStart(names, extra: ["--reconnect-cap", "4"]))
            fleet.controller!.signal(SIGKILL)
            _ = await fleet.controller!.wait(timeout: .seconds(10))
            // Down for longer than the cap: every agent is at its longest backoff.
            try await Task.sleep(for: .seconds(7))
            try await fleet.startController(heartbeat: 1, missed: 2, extra: ["--startup-grace", "8"])
            let back = await eventually(timeout: .seconds(20)) {
                (try? await fleet.subclouds())?.values.filter { $0["availability"] as? String == "online" }.count == names.count
            }
            #expect(back)
            try await Task.sleep(for: .seconds(3))
            let events = try await fleet.json(["event", "list"]) as? [[String: Any]] ?? []
            let falseOffline = events.filter { $0["kind"] as? String == "offline" }
            #expect(falseOffline.isEmpty, "\(falseOffline.count) false offline: \(falseOffline)")
        }
    }
}
