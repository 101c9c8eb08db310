import Foundation
import TernTestSupport
import Testing

/// `tern-sim` against a real controller: agents added and enrolled through the API
/// and the enrolment port once, then reused; each connection from its own loopback
/// address; health that differs per agent; churned connections come back.
@Suite("Fleet simulator", .serialized)
struct SimulatorTests {
    @Test("tern-sim enrols 30 agents once, connects them (each bound to its own loopback address) with differing health, survives churn, and reuses the identities on a restart")
    func simulate() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController(heartbeat: 1, missed: 3)
            let state = fleet.directory.appending("sim")
            let first = try await run(ChildProcess.productsDirectory + "/tern-sim", [
                "--data", fleet.data, "--count", "30", "--state", state, "--seconds", "8", "--churn", "60", "--prefix", "sim-",
            ], timeout: .seconds(90))
            #expect(first.status == 0, "\(first.output)")
            #expect(first.output.contains("30 agents ready (30 enrolled now)"), "\(first.output)")
            #expect(first.output.contains("connected 30/30"), "\(first.output)")
            let lines = first.output.split(separator: "\n").filter { $0.hasPrefix("t=") }
            #expect(lines.contains { $0.contains("rtt p50") && !$0.contains("p50 -") }, "no round trips measured:\n\(first.output)")
            #expect(lines.contains { !$0.contains("reconnects 0 ") }, "churn dropped no connection:\n\(first.output)")

            let subclouds = try await fleet.subclouds()
            let simulated = subclouds.filter { $0.key.hasPrefix("sim-") }
            #expect(simulated.count == 30)
            let memory = Set(simulated.values.compactMap { ($0["health"] as? [String: Any])?["memoryAvailableBytes"] as? Int })
            #expect(memory.count >= 10, "health should differ per agent: \(memory)")
            let firmware = Set(simulated.values.compactMap { ($0["firmware"] as? [[String: Any]])?.first { $0["kind"] as? String == "bios" }?["version"] as? String })
            #expect(firmware.count >= 10, "\(firmware)")
            // Every agent went through the real enrolment path.
            let events = try await fleet.json(["event", "list"]) as! [[String: Any]]
            #expect(events.filter { $0["kind"] as? String == "enrolled" }.count >= 30)

            let again = try await run(ChildProcess.productsDirectory + "/tern-sim", [
                "--data", fleet.data, "--count", "30", "--state", state, "--seconds", "3",
            ], timeout: .seconds(60))
            #expect(again.status == 0 && again.output.contains("30 agents ready (0 enrolled now)"), "\(again.output)")
            #expect(again.output.contains("connected 30/30"), "\(again.output)")
        }
    }

    @Test("a bad --from is refused with a clear error")
    func badNetwork() async throws {
        let result = try await run(ChildProcess.productsDirectory + "/tern-sim", ["--data", "/nonexistent", "--count", "1", "--from", "300.0.0.0/8"])
        #expect(result.status != 0 && result.output.contains("--from is an IPv4 network"), "\(result.output)")
    }
}
