import Foundation
import TernTestSupport
import Testing

/// A full disk on the site (issue 7, item 13): a real tmpfs too small for the
/// object, the shipped binaries, and then more space.
@Suite(.serialized) struct DiskFullTests {
    @Test("no space left: the transfer fails alone with the reason and a disk alarm; the link stays up; it resumes when space returns")
    func diskFull() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let state = fleet.directory.appending("agent-edge-01")
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            _ = try await shell("mount -t tmpfs -o size=768k,mode=0700 tern-test-full \(state)")
            defer { _ = try? Process.run(URL(fileURLWithPath: "/bin/umount"), arguments: ["-l", state]).waitUntilExit() }
            let updater = fleet.directory.appending("fw-update")
            try "#!/bin/sh\nexit 0\n".write(toFile: updater, atomically: true, encoding: .utf8)
            chmod(updater, 0o755)
            _ = try await ContentPlaneTests.enrolled(fleet, "edge-01", extra: ["--firmware-command", updater, "--transfer-stall-timeout", "2"])
            // 3 MB that does not compress: it cannot fit in 768 KiB.
            let image = fleet.directory.appending("bios.cap")
            var generator = SplitMix(seed: 7)
            try Data((0..<3_000_000).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: URL(fileURLWithPath: image))
            #expect(try await fleet.cli(["firmware", "import", image, "--component", "bios", "--version", "2.0"]).status == 0)
            let deploy = try await fleet.json(["firmware", "deploy", "bios", "--subcloud", "edge-01"]) as! [[String: Any]]
            let id = deploy.first?["id"]

            let reported = await eventually(timeout: .seconds(30), every: .milliseconds(300)) {
                let deployment = try? await ContentPlaneTests.deployment(fleet, "edge-01", id: id)
                let alarms = (try? await fleet.json(["alarm", "list", "--subcloud", "edge-01"])) as? [[String: Any]] ?? []
                return deployment?["state"] as? String == "fetching"
                    && (deployment?["detail"] as? String)?.contains("No space left on device") == true
                    && alarms.contains { $0["alarmID"] as? String == "100.104" && ($0["reason"] as? String)?.contains("No space left on device") == true }
            }
            let last = try? await ContentPlaneTests.deployment(fleet, "edge-01", id: id)
            #expect(reported, "\(String(describing: last))")
            // The link stayed up: online, one connection, no offline alarm, heartbeats going on.
            try await Task.sleep(for: .seconds(3))
            let subcloud = try await fleet.subclouds()["edge-01"]
            #expect(subcloud?["availability"] as? String == "online")
            let events = try await fleet.json(["event", "list"]) as? [[String: Any]] ?? []
            #expect(events.filter { $0["subcloud"] as? String == "edge-01" && $0["kind"] as? String == "online" }.count == 1, "\(events)")
            #expect(fleet.agents["edge-01"]!.output.components(separatedBy: "connected to controller").count == 2, "the agent reconnected")

            // Space returns: the transfer resumes by itself, the firmware is applied, the alarm clears.
            _ = try await shell("mount -o remount,size=64m \(state)")
            #expect(try await ContentPlaneTests.waitFor(fleet, "edge-01", deployment: id, state: "activated", timeout: .seconds(60)))
            let cleared = await eventually(timeout: .seconds(10)) {
                ((try? await fleet.json(["alarm", "list", "--subcloud", "edge-01"])) as? [[String: Any]])?.contains { $0["alarmID"] as? String == "100.104" } == false
            }
            #expect(cleared)
            fleet.agents["edge-01"]!.signal(SIGTERM)
            _ = await fleet.agents["edge-01"]!.wait(timeout: .seconds(10))
        }
    }
}
