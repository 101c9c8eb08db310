import Controller
import Foundation
import TernTestSupport
import Testing

/// The control plane end to end with the shipped binaries: enrolment, registry,
/// health and firmware, offline detection, restarts, deletion, API auth, systemd.
@Suite(.serialized) struct ControlPlaneTests {
    @Test("three agents enrol and come online; health and firmware reach the API and CLI")
    func enrolAndReport() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            var tokens: [String: String] = [:]
            for (index, name) in ["edge-01", "edge-02", "edge-03"].enumerated() {
                let (token, fingerprint) = try await fleet.add(name)
                tokens[name] = token
                let enrolled = try await fleet.enrol(name, token: token, fingerprint: fingerprint)
                #expect(enrolled.status == 0, "\(enrolled.output)")
                try fleet.startAgent(name, biosVersion: "2.\(index)")
            }
            // The key was generated on the node and is readable by its owner only.
            let mode = try FileManager.default.attributesOfItem(atPath: fleet.directory.appending("agent-edge-01/identity.pem"))[.posixPermissions] as? Int
            #expect(mode == 0o600)

            let online = await eventually(timeout: .seconds(20)) {
                guard let subclouds = try? await fleet.subclouds(), subclouds.count == 3 else { return false }
                return subclouds.values.allSatisfy { $0["availability"] as? String == "online" && ($0["health"] as? [String: Any])?["memoryTotalBytes"] != nil }
            }
            #expect(online)

            let shown = try await fleet.json(["subcloud", "show", "edge-02"]) as! [String: Any]
            #expect(shown["deployStatus"] as? String == "enrolled")
            #expect(shown["management"] as? String == "unmanaged")
            let firmware = shown["firmware"] as? [[String: Any]] ?? []
            #expect(firmware.contains { $0["kind"] as? String == "bios" && $0["version"] as? String == "2.1" })
            #expect(firmware.contains { $0["kind"] as? String == "product" && $0["name"] as? String == "SYS-E300-12D" })
            let health = shown["health"] as! [String: Any]
            #expect((health["disks"] as? [[String: Any]])?.contains { $0["mount"] as? String == "/" } == true)

            let table = try await fleet.cli(["subcloud", "list"])
            #expect(table.output.contains("edge-03") && table.output.contains("online"))
            let human = try await fleet.cli(["subcloud", "show", "edge-02"])
            #expect(human.output.contains("firmware bios") && human.output.contains("2.1"))

            // A token works once.
            let reused = try await fleet.enrol("edge-01-again", token: tokens["edge-01"]!, fingerprint: "sha256:" + (try await fleet.json(["subcloud", "add", "spare"]) as! [String: Any])["caFingerprint"].map { "\($0)" }!)
            #expect(reused.status != 0)
            #expect(reused.output.contains("already used"), "\(reused.output)")
            let unknown = try await fleet.enrol("edge-x", token: "not-a-token", fingerprint: "sha256:" + String(repeating: "0", count: 64))
            #expect(unknown.status != 0)

            // A wrong CA fingerprint: the agent refuses the controller.
            let (spareToken, _) = try await fleet.add("spare-2")
            let wrongCA = try await fleet.enrol("spare-2", token: spareToken, fingerprint: "sha256:" + String(repeating: "a", count: 64))
            #expect(wrongCA.status != 0)
            #expect(!FileManager.default.fileExists(atPath: fleet.directory.appending("agent-spare-2/identity.pem")))

            // No token, no API.
            let denied = try await fleet.cli(["subcloud", "list", "--token", "wrong"])
            #expect(denied.status != 0 && denied.output.contains("401"), "\(denied.output)")
            #expect(try httpGet(port: fleet.apiPort, path: "/v1/subclouds").status == 401)
            #expect(try httpGet(port: fleet.apiPort, path: "/v1/subclouds", headers: ["Authorization": "Bearer nope"]).status == 401)
            let token = try String(contentsOfFile: fleet.data + "/api-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try httpGet(port: fleet.apiPort, path: "/v1/subclouds", headers: ["Authorization": "Bearer \(token)"]).status == 200)
            let metrics = try httpGet(port: fleet.apiPort, path: "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.body.contains("tern_agents_connected 3"), "\(metrics.body)")
            #expect(metrics.body.contains("tern_enrolments_total{result=\"refused\"}"))
        }
    }

    @Test("kill -9 brings offline and a critical alarm; restart brings online and clears it; controller restart registers no one twice")
    func offlineAndRestarts() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController(heartbeat: 1, missed: 2)
            #expect(try await fleet.enrolAndStart(["edge-01", "edge-02"]))

            fleet.agents["edge-02"]!.signal(SIGKILL)
            let killedAt = ContinuousClock.now
            let offline = await eventually(timeout: .seconds(10)) {
                guard let edge = try? await fleet.subclouds()["edge-02"], edge["availability"] as? String == "offline" else { return false }
                let alarms = try? await fleet.json(["alarm", "list", "--subcloud", "edge-02"]) as? [[String: Any]]
                return alarms?.contains { $0["alarmID"] as? String == "280.001" && $0["severity"] as? String == "critical" } == true
            }
            #expect(offline)
            // Threshold: 2 missed heartbeats of 1 s, checked every 250 ms.
            #expect(ContinuousClock.now - killedAt < .seconds(5))
            #expect((try await fleet.subclouds())["edge-01"]?["availability"] as? String == "online")

            try fleet.startAgent("edge-02")
            let back = await eventually(timeout: .seconds(10)) {
                guard let edge = try? await fleet.subclouds()["edge-02"], edge["availability"] as? String == "online" else { return false }
                let alarms = try? await fleet.json(["alarm", "list", "--subcloud", "edge-02"]) as? [[String: Any]]
                return alarms?.isEmpty == true
            }
            #expect(back)

            // SIGTERM: GOAWAY to every agent, exit 0; the same ports again, everyone back, once.
            fleet.controller!.signal(SIGTERM)
            #expect(await fleet.controller!.wait() == 0)
            for name in ["edge-01", "edge-02"] {
                let told = await eventually { fleet.agents[name]!.output.contains("controller sent GOAWAY") }
                #expect(told, "\(fleet.agents[name]!.output)")
            }
            try await fleet.startController(heartbeat: 1, missed: 2)
            let reconnected = await eventually(timeout: .seconds(20)) {
                let log = fleet.controller!.output
                return log.contains("subcloud=edge-01 version=1 [Controller] agent connected") && log.contains("subcloud=edge-02 version=1 [Controller] agent connected")
            }
            #expect(reconnected, "\(fleet.controller!.output)")
            let subclouds = try await fleet.subclouds()
            #expect(subclouds.keys.sorted() == ["edge-01", "edge-02"])
            #expect(fleet.controller!.output.components(separatedBy: "[Controller] agent connected").count - 1 == 2)
            let events = try await fleet.json(["event", "list"]) as! [[String: Any]]
            #expect(events.contains { $0["kind"] as? String == "offline" && $0["subcloud"] as? String == "edge-02" })
            #expect(events.contains { $0["kind"] as? String == "alarm-cleared" && $0["subcloud"] as? String == "edge-02" })
        }
    }

    @Test("a deleted subcloud's certificate is refused at the handshake; delete is refused while managed")
    func deletion() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let (token, fingerprint) = try await fleet.add("edge-01")
            #expect(try await fleet.enrol("edge-01", token: token, fingerprint: fingerprint).status == 0)
            let agent = try fleet.startAgent("edge-01")
            let online = await eventually(timeout: .seconds(20)) { (try? await fleet.subclouds())?["edge-01"]?["availability"] as? String == "online" }
            #expect(online)

            #expect(try await fleet.cli(["subcloud", "manage", "edge-01"]).status == 0)
            let refused = try await fleet.cli(["subcloud", "delete", "edge-01"])
            #expect(refused.status != 0 && refused.output.contains("unmanage it"), "\(refused.output)")
            #expect(try await fleet.cli(["subcloud", "unmanage", "edge-01"]).status == 0)
            #expect(try await fleet.cli(["subcloud", "delete", "edge-01"]).status == 0)

            // The live connection is ended, and every reconnection is refused.
            let cutOff = await eventually(timeout: .seconds(10)) {
                agent.output.components(separatedBy: "refuses this agent's identity").count - 1 >= 2
            }
            #expect(cutOff, "\(agent.output)")
            #expect(try await fleet.subclouds().isEmpty)
            // Re-adding the name does not bring the old certificate back.
            _ = try await fleet.add("edge-01")
            try await Task.sleep(for: .seconds(2))
            #expect((try await fleet.subclouds())["edge-01"]?["availability"] as? String == "offline")
        }
    }

    @Test("systemd: READY=1 once serving, STOPPING=1 on SIGTERM")
    func systemdNotify() async throws {
        try await ProcessFleet.with { fleet in
            let socket = try NotifySocket(path: fleet.directory.appending("notify.sock"))
            try await fleet.startController(environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000"])
            let early = socket.receive(for: .seconds(1))
            #expect(early.contains { $0.contains("READY=1") }, "\(early)")
            #expect(early.filter { $0 == "WATCHDOG=1" }.count >= 2, "\(early)")
            fleet.controller!.signal(SIGTERM)
            let late = socket.receive(for: .seconds(1))
            #expect(late.contains("STOPPING=1"), "\(late)")
            #expect(await fleet.controller!.wait() == 0)
        }
    }

    @Test("kill -9 of the agent in the middle of a transfer: restarted, it resumes and the object arrives intact")
    func killAgentMidTransfer() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let (token, fingerprint) = try await fleet.add("edge-01")
            #expect(try await fleet.enrol("edge-01", token: token, fingerprint: fingerprint).status == 0)
            let first = try fleet.startAgent("edge-01")
            let online = await eventually(timeout: .seconds(20)) { (try? await fleet.subclouds())?["edge-01"]?["availability"] as? String == "online" }
            #expect(online)

            var generator = SplitMix(seed: 11)
            let bytes = (0..<(96 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let file = fleet.directory.appending("image.bin")
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            let apiToken = try String(contentsOfFile: fleet.data + "/api-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let client = APIClient(host: "127.0.0.1", port: fleet.apiPort, token: apiToken)
            let imported = try JSONSerialization.jsonObject(with: try await client.send(.POST, "/v1/objects", body: try JSONSerialization.data(withJSONObject: ["path": file]))) as! [String: Any]
            let digest = imported["digest"] as! String
            _ = try await client.send(.POST, "/v1/subclouds/edge-01/content", body: try JSONSerialization.data(withJSONObject: ["digest": digest, "kind": "firmware"]))

            // Kill it once a few blocks are on disk.
            let record = fleet.directory.appending("agent-edge-01/transfers/partial/\(digest).blocks")
            let started = await eventually(timeout: .seconds(30), every: .milliseconds(5)) {
                guard let held = FileManager.default.contents(atPath: record) else { return false }
                return held.filter { $0 == 1 }.count >= 4
            }
            #expect(started)
            first.signal(SIGKILL)
            _ = await first.wait()
            let object = fleet.directory.appending("agent-edge-01/transfers/objects/\(digest)")
            #expect(!FileManager.default.fileExists(atPath: object), "the transfer finished before the kill; make the object larger")

            let second = try fleet.startAgent("edge-01")
            let arrived = await eventually(timeout: .seconds(60)) { FileManager.default.fileExists(atPath: object) }
            #expect(arrived, "\(second.output)")
            let received = try Data(contentsOf: URL(fileURLWithPath: object))
            #expect(received == Data(bytes))
            // It picked up where the first process stopped, not from block 0.
            let resumedAt = second.output.components(separatedBy: "resume_at=").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) }
            #expect((resumedAt ?? 0) >= 4, "\(second.output)")
        }
    }
}
