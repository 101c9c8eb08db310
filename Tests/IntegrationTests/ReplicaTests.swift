import Foundation
import TernTestSupport
import Testing

/// Two `tern-controller serve --store postgres://…` replicas sharing one database and
/// one data directory (CA, objects, API token), with `tern-sim` agents enrolled through
/// each: a change made on one replica reaches an agent held by the other; after a
/// kill -9 of one, its agents are back on the other within the reconnect window,
/// nothing is lost or registered twice, no site is marked offline, and the lease that
/// picks the replica running background work moves.
/// Four busy processes: the test command runs it on its own after the rest
/// (`TERN_REPLICA_TESTS=0` leaves it out of the main run).
@Suite(
    "Controller replicas", .serialized,
    .enabled(if: StoreFixture.kinds.contains(.postgres), "needs PostgreSQL (TERN_POSTGRES_URL)"),
    .enabled(if: ProcessInfo.processInfo.environment["TERN_REPLICA_TESTS"] != "0", "run on its own (TERN_REPLICA_TESTS=0)")
)
struct ReplicaTests {
    final class Replica: Sendable {
        let process: ChildProcess
        let api: String
        let wire: Int

        init(_ name: String, data: String, store: String, log: String) async throws {
            self.process = try ChildProcess("tern-controller", [
                "serve", "--data", data, "--store", store, "--listen", "127.0.0.1:0", "--enrol-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                "--heartbeat-interval", "2", "--missed-heartbeats", "3", "--disconnect-grace", "10", "--startup-grace", "30",
            ], outputPath: log)
            let process = self.process
            let up = await eventually(timeout: .seconds(30)) {
                ProcessFleet.port(in: process.output, of: "wire server listening") != nil && process.output.contains("API listening")
            }
            try #require(up, "replica \(name) did not start: \(process.output)")
            self.api = "http://127.0.0.1:\(ProcessFleet.port(in: process.output, of: "API listening")!)"
            self.wire = ProcessFleet.port(in: process.output, of: "wire server listening")!
        }

        var leads: Bool { self.process.output.contains("this replica now runs the fleet's background work") }
    }

    static let leaderLine = "this replica now runs the fleet's background work"
    /// Agents enrolled through each replica: 500 in all, the issue's small scale.
    static let perReplica = 250

    @Test("two replicas on one database: a change on one reaches the other's agents; kill -9 one and its agents are back on the other, nothing lost or doubled, none offline, the lease moved")
    func failover() async throws {
        let store = try await StoreFixture.createDatabase()
        let directory = try TemporaryDirectory(prefix: "tern-replicas")
        defer { directory.remove() }
        let data = directory.appending("controller")
        let a = try await Replica("a", data: data, store: store, log: directory.appending("a.log"))
        // The first replica makes the CA and the API token; the second shares them.
        let aLeads = await eventually(timeout: .seconds(15)) { a.leads }
        try #require(aLeads, "replica a never took the lease: \(a.process.output)")
        let b = try await Replica("b", data: data, store: store, log: directory.appending("b.log"))
        var processes = [a.process, b.process]
        defer { for process in processes where process.isRunning { process.signal(SIGKILL) } }
        #expect(!b.leads, "both replicas hold the lease")
        let token = try String(contentsOfFile: data + "/api-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        func cli(_ replica: Replica, _ arguments: [String]) async throws -> (status: Int32, output: String) {
            try await run(ChildProcess.productsDirectory + "/tern-controller", arguments + ["--api", replica.api, "--token", token])
        }
        func json(_ replica: Replica, _ arguments: [String]) async throws -> Any? {
            let result = try await cli(replica, arguments + ["--json"])
            guard result.status == 0 else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(result.output.utf8))
        }
        // Each replica announces itself every few seconds: wait until each knows the other's address.
        try await Task.sleep(for: .seconds(6))

        // 250 agents enrolled through each replica (so connected to it, with the other to move to).
        var sims: [String: ChildProcess] = [:]
        for (prefix, replica) in [("a-", a), ("b-", b)] {
            sims[prefix] = try ChildProcess(ChildProcess.productsDirectory + "/tern-sim", [
                "--api", replica.api, "--token", token, "--count", "\(Self.perReplica)", "--prefix", prefix, "--state", directory.appending("sim-\(prefix)"),
                "--heartbeat", "2", "--seconds", "300",
            ], outputPath: directory.appending("sim-\(prefix).log"))
        }
        processes += sims.values
        let connected = await eventually(timeout: .seconds(180), every: .milliseconds(250)) {
            sims.values.allSatisfy { $0.output.contains("connected \(Self.perReplica)/\(Self.perReplica)") }
        }
        try #require(connected, "sims did not connect:\n\(sims["a-"]!.output)\n\(sims["b-"]!.output)")
        let saved = try String(contentsOfFile: directory.appending("sim-a-/a-00000/controller"), encoding: .utf8)
        #expect(saved.contains(":\(a.wire)") && saved.contains(":\(b.wire)"), "enrolment through a should name both replicas: \(saved)")

        // A config set through b for a site held by a reaches it (b nudges a).
        let motd = directory.appending("motd")
        try "welcome to a-00000\n".write(toFile: motd, atomically: true, encoding: .utf8)
        let set = try await cli(b, ["config", "set", "--subcloud", "a-00000", "\(motd):/etc/motd:0644"])
        try #require(set.status == 0, "\(set.output)")
        let applied = await eventually(timeout: .seconds(15), every: .milliseconds(200)) {
            let view = (try? await json(b, ["config", "show", "--subcloud", "a-00000"]) as? [[String: Any]])?.first
            return (view?["state"] as? [String: Any])?["appliedGeneration"] as? Int == 1
        }
        #expect(applied, "the config set on b never reached a-00000 on a")
        #expect(FileManager.default.fileExists(atPath: directory.appending("sim-a-/a-00000/root/etc/motd")))

        // kill -9 the replica holding the lease and half the agents.
        a.process.signal(SIGKILL)
        let killed = Date()
        let back = await eventually(timeout: .seconds(60), every: .milliseconds(500)) {
            guard let list = try? await json(b, ["subcloud", "list"]) as? [[String: Any]] else { return false }
            let moved = list.filter { ($0["name"] as? String ?? "").hasPrefix("a-") }
            return moved.count == Self.perReplica && moved.allSatisfy { row in
                row["availability"] as? String == "online" && ((row["lastSeenAt"] as? Double).map { Date(timeIntervalSinceReferenceDate: $0) > killed } ?? false
                    || (row["lastSeenAt"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) }.map { $0 > killed } ?? false)
            }
        }
        let elapsed = Date().timeIntervalSince(killed)
        #expect(back, "a's agents did not come back on b:\n\(sims["a-"]!.output.suffix(2000))")
        print("a's \(Self.perReplica) agents back on b \(String(format: "%.1f", elapsed)) s after kill -9")
        let moved = await eventually(timeout: .seconds(20)) { b.leads }
        #expect(moved, "the lease did not move to b: \(b.process.output.suffix(2000))")

        // Nothing registered twice, nothing marked offline, nothing lost.
        let list = try #require(try await json(b, ["subcloud", "list"]) as? [[String: Any]])
        let names = list.compactMap { $0["name"] as? String }
        #expect(names.count == 2 * Self.perReplica && Set(names).count == 2 * Self.perReplica, "\(names.count) subclouds, \(Set(names).count) names")
        let events = try #require(try await json(b, ["event", "list", "--limit", "100000"]) as? [[String: Any]])
        let offline = events.filter { $0["kind"] as? String == "offline" }
        #expect(offline.isEmpty, "sites marked offline: \(offline)")
        let view = (try await json(b, ["config", "show", "--subcloud", "a-00000"]) as? [[String: Any]])?.first
        #expect((view?["state"] as? [String: Any])?["appliedGeneration"] as? Int == 1)
        // And b now serves a-00001 itself.
        let again = try await cli(b, ["config", "set", "--subcloud", "a-00001", "\(motd):/etc/motd:0644"])
        #expect(again.status == 0, "\(again.output)")
        let reached = await eventually(timeout: .seconds(15)) {
            FileManager.default.fileExists(atPath: directory.appending("sim-a-/a-00001/root/etc/motd"))
        }
        #expect(reached)
        for sim in sims.values { sim.signal(SIGTERM) }
        b.process.signal(SIGTERM)
        _ = await b.process.wait(timeout: .seconds(20))
    }
}
