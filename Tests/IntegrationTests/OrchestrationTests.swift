import Foundation
import TernTestSupport
import Testing

/// Strategies over real processes: the shipped controller and agents, a firmware
/// command per site that records when it ran (its own log is the ground truth).
@Suite(.serialized) struct OrchestrationTests {
    /// One line per event of the sites' firmware commands: `NAME start|end|fail SECONDS`.
    struct Runs {
        var lines: [(site: String, event: String, at: Double)]

        init(_ path: String) {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            self.lines = text.split(separator: "\n").compactMap { line in
                let parts = line.split(separator: " ")
                guard parts.count == 3, let at = Double(parts[2]) else { return nil }
                return (String(parts[0]), String(parts[1]), at)
            }
        }

        func count(_ site: String) -> Int { self.lines.filter { $0.site == site && $0.event == "start" }.count }

        /// The most commands running at one moment.
        var mostAtOnce: Int {
            var running = 0
            var most = 0
            for line in self.lines.sorted(by: { $0.at < $1.at }) {
                if line.event == "start" { running += 1 } else { running -= 1 }
                most = max(most, running)
            }
            return most
        }
    }

    /// Starts a controller and `count` agents whose firmware command sleeps `seconds`
    /// and fails on the sites in `failing`.
    static func fleet(
        _ fleet: ProcessFleet, count: Int, seconds: Double = 0.5, failing: Set<String> = [], hanging: Set<String> = [],
        via proxy: (port: Int, sites: Set<String>)? = nil
    ) async throws -> (names: [String], log: String) {
        if fleet.controller == nil { try await fleet.startController() }
        let log = fleet.directory.appending("fw-runs.log")
        let names = (1...count).map { String(format: "edge-%02d", $0) }
        for name in names {
            let script = fleet.directory.appending("fw-\(name)")
            let outcome = failing.contains(name)
                ? "echo \"\(name) fail $(date +%s.%N)\" >> \(log); exit 1"
                : "printf '%s\\n' \"$2\" > \(fleet.directory.appending("sys-\(name)"))/class/dmi/id/bios_version; echo \"\(name) end $(date +%s.%N)\" >> \(log)"
            try """
            #!/bin/sh
            echo "\(name) start $(date +%s.%N)" >> \(log)
            sleep \(hanging.contains(name) ? 600 : seconds)
            \(outcome)
            """.write(toFile: script, atomically: true, encoding: .utf8)
            chmod(script, 0o755)
            let link = proxy.flatMap { $0.sites.contains(name) ? ["--controller", "127.0.0.1:\($0.port)"] : nil } ?? []
            _ = try await ContentPlaneTests.enrolled(fleet, name, extra: ["--firmware-command", script] + link)
            // Strategies act on managed subclouds only.
            let managed = try await fleet.cli(["subcloud", "manage", name])
            try #require(managed.status == 0, "\(managed.output)")
        }
        let image = fleet.directory.appending("bios.cap")
        var generator = SplitMix(seed: 9)
        // Random, so zlib cannot shrink it below what a stalled link lets through.
        try Data((0..<200_000).map { _ in UInt8(truncatingIfNeeded: generator.next()) }).write(to: URL(fileURLWithPath: image))
        let imported = try await fleet.cli(["firmware", "import", image, "--component", "bios", "--version", "2.0"])
        try #require(imported.status == 0, "\(imported.output)")
        return (names, log)
    }

    /// Creates and applies a firmware strategy, then follows it with `show --watch` until it ends.
    static func run(_ fleet: ProcessFleet, _ settings: [String]) async throws -> (status: Int32, output: String) {
        let created = try await fleet.cli(["strategy", "create", "firmware", "bios", "--version", "2.0"] + settings)
        try #require(created.status == 0, "\(created.output)")
        let applied = try await fleet.cli(["strategy", "apply", "firmware"])
        try #require(applied.status == 0, "\(applied.output)")
        return try await self.watch(fleet)
    }

    static func watch(_ fleet: ProcessFleet) async throws -> (status: Int32, output: String) {
        try await TernTestSupport.run(
            ChildProcess.productsDirectory + "/tern-controller", ["strategy", "show", "firmware", "--watch", "--interval", "0.3", "--data", fleet.data],
            timeout: .seconds(240)
        )
    }

    static func steps(_ fleet: ProcessFleet) async throws -> [String: [String: Any]] {
        let view = try await fleet.json(["strategy", "show", "firmware"]) as! [String: Any]
        let steps = view["steps"] as! [[String: Any]]
        return Dictionary(uniqueKeysWithValues: steps.map { ($0["subcloud"] as! String, $0) })
    }

    @Test("serial over 5 sites: the firmware commands run strictly one after another; --watch without a terminal prints plain lines and exits 0")
    func serial() async throws {
        try await ProcessFleet.with { fleet in
            let (names, log) = try await Self.fleet(fleet, count: 5)
            let watched = try await Self.run(fleet, ["--all", "--apply-type", "serial"])
            #expect(watched.status == 0, "\(watched.output)")
            #expect(watched.output.contains("firmware strategy complete, 100% done: complete 5"), "\(watched.output)")
            #expect(!watched.output.contains("\u{1B}["), "escape sequences without a terminal")
            let runs = Runs(log)
            for name in names { #expect(runs.count(name) == 1, "\(name) ran \(runs.count(name)) times") }
            #expect(runs.mostAtOnce == 1, "\(runs.lines)")
            // The step timestamps say the same: each started after the one before finished.
            let steps = try await Self.steps(fleet)
            let formatter = ISO8601DateFormatter()
            let spans = names.map { (formatter.date(from: steps[$0]?["startedAt"] as? String ?? "")!, formatter.date(from: steps[$0]?["finishedAt"] as? String ?? "")!) }
            for (earlier, later) in zip(spans, spans.dropFirst()) { #expect(later.0 >= earlier.1) }
            // The event log and /metrics say it too.
            let events = try await fleet.json(["event", "list"]) as! [[String: Any]]
            #expect(events.contains { ($0["detail"] as? String)?.hasPrefix("firmware strategy started") == true })
            #expect(events.contains { ($0["detail"] as? String)?.hasPrefix("firmware strategy complete") == true })
            #expect(events.filter { $0["kind"] as? String == "strategy-step" && ($0["detail"] as? String)?.hasPrefix("firmware step complete") == true }.count == 5)
            let metrics = try await TernTestSupport.run("/usr/bin/curl", ["-sf", "http://127.0.0.1:\(fleet.apiPort)/metrics"])
            #expect(metrics.output.contains(#"tern_strategy_steps{type="firmware",state="complete"} 5"#), "\(metrics.output)")
            #expect(metrics.output.contains(#"tern_strategy_duration_seconds{type="firmware"}"#))
        }
    }

    @Test("parallel with max-parallel 3 over 10 sites: never more than 3 at once, all complete")
    func parallelWindow() async throws {
        try await ProcessFleet.with { fleet in
            let (names, log) = try await Self.fleet(fleet, count: 10, seconds: 1)
            let watched = try await Self.run(fleet, ["--all", "--apply-type", "parallel", "--max-parallel", "3"])
            #expect(watched.status == 0, "\(watched.output)")
            let runs = Runs(log)
            #expect(runs.mostAtOnce <= 3, "\(runs.lines)")
            #expect(runs.mostAtOnce >= 2, "the window was not used: \(runs.lines)")
            for name in names { #expect(runs.count(name) == 1) }
            #expect(try await Self.steps(fleet).values.allSatisfy { $0["state"] as? String == "complete" })
        }
    }

    @Test("stop on failure: a site's firmware command exits 1, no further step starts, the strategy fails naming it and raises 900.001")
    func stopOnFailure() async throws {
        try await ProcessFleet.with { fleet in
            let (_, log) = try await Self.fleet(fleet, count: 4, seconds: 0.2, failing: ["edge-02"])
            let watched = try await Self.run(fleet, ["--all", "--apply-type", "serial"])
            #expect(watched.status != 0)
            let view = try await fleet.json(["strategy", "show", "firmware"]) as! [String: Any]
            let strategy = view["strategy"] as! [String: Any]
            #expect(strategy["state"] as? String == "failed")
            #expect((strategy["detail"] as? String)?.contains("edge-02") == true, "\(strategy)")
            let runs = Runs(log)
            #expect(runs.count("edge-01") == 1 && runs.count("edge-02") == 1)
            #expect(runs.count("edge-03") == 0 && runs.count("edge-04") == 0, "steps started after the failure: \(runs.lines)")
            let steps = try await Self.steps(fleet)
            #expect(steps["edge-02"]?["state"] as? String == "failed")
            #expect(steps["edge-03"]?["state"] as? String == "aborted")
            let alarms = try await fleet.json(["alarm", "list"]) as! [[String: Any]]
            #expect(alarms.contains { $0["alarmID"] as? String == "900.001" && $0["entity"] as? String == "strategy=firmware" }, "\(alarms)")
        }
    }

    @Test("failure threshold: without stop-on-failure the strategy goes on past one failure and stops at the threshold")
    func failureThreshold() async throws {
        try await ProcessFleet.with { fleet in
            let (_, log) = try await Self.fleet(fleet, count: 6, seconds: 0.2, failing: ["edge-02", "edge-03"])
            let watched = try await Self.run(fleet, ["--all", "--apply-type", "serial", "--no-stop-on-failure", "--failure-threshold", "60"])
            #expect(watched.status != 0)
            let runs = Runs(log)
            // edge-02 fails (1 of 2 finished: 50 %, under 60): edge-03 runs and fails too (2 of 3: 67 %): stop.
            #expect(runs.count("edge-03") == 1)
            #expect(runs.count("edge-04") == 0, "\(runs.lines)")
        }
    }

    @Test("abort mid-way: the step in flight finishes, no new one starts, the strategy ends aborted")
    func abort() async throws {
        try await ProcessFleet.with { fleet in
            let (_, log) = try await Self.fleet(fleet, count: 4, seconds: 2)
            #expect(try await fleet.cli(["strategy", "create", "firmware", "bios", "--version", "2.0", "--all", "--apply-type", "serial"]).status == 0)
            #expect(try await fleet.cli(["strategy", "apply", "firmware"]).status == 0)
            #expect(await eventually(timeout: .seconds(30)) { Runs(log).count("edge-02") == 1 })
            #expect(try await fleet.cli(["strategy", "abort", "firmware"]).status == 0)
            let watched = try await Self.watch(fleet)
            #expect(watched.status != 0)
            let runs = Runs(log)
            #expect(runs.lines.contains { $0.site == "edge-02" && $0.event == "end" }, "the step in flight was cut short")
            #expect(runs.count("edge-03") == 0 && runs.count("edge-04") == 0)
            let steps = try await Self.steps(fleet)
            #expect(steps["edge-02"]?["state"] as? String == "complete")
            #expect(steps["edge-04"]?["state"] as? String == "aborted")
            #expect((try await fleet.json(["strategy", "show", "firmware"]) as! [String: Any])["strategy"].flatMap { ($0 as? [String: Any])?["state"] as? String } == "aborted")
        }
    }

    @Test("kill -9 of the controller mid-way, then a restart: the strategy finishes and every site's command ran exactly once")
    func crashAndResume() async throws {
        try await ProcessFleet.with { fleet in
            let (names, log) = try await Self.fleet(fleet, count: 4, seconds: 1.5)
            #expect(try await fleet.cli(["strategy", "create", "firmware", "bios", "--version", "2.0", "--all", "--apply-type", "serial"]).status == 0)
            #expect(try await fleet.cli(["strategy", "apply", "firmware"]).status == 0)
            // Killed while the second site's command runs.
            #expect(await eventually(timeout: .seconds(30)) { Runs(log).count("edge-02") == 1 })
            fleet.controller?.signal(SIGKILL)
            _ = await fleet.controller?.wait()
            try await fleet.startController()
            let watched = try await Self.watch(fleet)
            #expect(watched.status == 0, "\(watched.output)")
            let runs = Runs(log)
            for name in names { #expect(runs.count(name) == 1, "\(name) ran \(runs.count(name)) times: \(runs.lines)") }
        }
    }

    @Test("a site that never finishes fails its step when the step timeout passes, saying so")
    func stepTimeout() async throws {
        try await ProcessFleet.with { fleet in
            _ = try await Self.fleet(fleet, count: 2, seconds: 0.2, hanging: ["edge-01"])
            let watched = try await Self.run(fleet, ["--all", "--apply-type", "parallel", "--no-stop-on-failure", "--step-timeout", "4s"])
            #expect(watched.status != 0)
            let steps = try await Self.steps(fleet)
            #expect(steps["edge-01"]?["state"] as? String == "failed")
            #expect((steps["edge-01"]?["detail"] as? String)?.contains("no result within 4 s") == true, "\(steps)")
            #expect(steps["edge-02"]?["state"] as? String == "complete")
        }
    }

    @Test("strategy show --watch in a pseudo-terminal redraws a progress bar in place")
    func watchInTerminal() async throws {
        try await ProcessFleet.with { fleet in
            _ = try await Self.fleet(fleet, count: 2, seconds: 0.5)
            #expect(try await fleet.cli(["strategy", "create", "firmware", "bios", "--version", "2.0", "--all"]).status == 0)
            #expect(try await fleet.cli(["strategy", "apply", "firmware"]).status == 0)
            // util-linux `script` gives the command a pseudo-terminal.
            let command = "\(ChildProcess.productsDirectory)/tern-controller strategy show firmware --watch --interval 0.3 --data \(fleet.data)"
            let result = try await TernTestSupport.run("/usr/bin/script", ["-qfec", command, "/dev/null"], timeout: .seconds(120))
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("[########################################] 100%"), "\(result.output)")
            #expect(result.output.contains("\u{1B}["), "no redraw")
        }
    }

    @Test("a site whose link lets the handshake through but never a transfer fails its step when the step timeout passes")
    func stalledLink() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let proxy = try await FaultProxy(targetPort: fleet.wirePort)
            // Enough for TLS, HELLO/WELCOME and the first reports; a 200 KB image never gets through.
            proxy.stall(after: 16_000)
            _ = try await Self.fleet(fleet, count: 2, seconds: 0.2, via: (proxy.port, ["edge-01"]))
            let watched = try await Self.run(fleet, ["--all", "--apply-type", "parallel", "--no-stop-on-failure", "--step-timeout", "8s"])
            #expect(watched.status != 0)
            let steps = try await Self.steps(fleet)
            #expect(steps["edge-01"]?["state"] as? String == "failed", "\(steps)")
            let detail = steps["edge-01"]?["detail"] as? String ?? ""
            #expect(detail.contains("no result within 8 s") || detail.contains("went offline"), "\(detail)")
            #expect(steps["edge-02"]?["state"] as? String == "complete")
            #expect(proxy.connections >= 1, "the site did not use the stalled link")
            try await proxy.close()
        }
    }

    @Test("a site that goes offline during its step fails it with that reason; the strategy ends failed, not hung")
    func siteGoesOffline() async throws {
        try await ProcessFleet.with { fleet in
            let (_, log) = try await Self.fleet(fleet, count: 2, seconds: 30, hanging: [])
            #expect(try await fleet.cli(["strategy", "create", "firmware", "bios", "--version", "2.0", "--all", "--apply-type", "serial"]).status == 0)
            #expect(try await fleet.cli(["strategy", "apply", "firmware"]).status == 0)
            // edge-01's command runs (30 s); its agent is stopped meanwhile.
            #expect(await eventually(timeout: .seconds(30)) { Runs(log).count("edge-01") == 1 })
            let agent = try #require(fleet.agents["edge-01"])
            agent.signal(SIGKILL)
            _ = await agent.wait()
            let watched = try await Self.watch(fleet)
            #expect(watched.status != 0)
            let steps = try await Self.steps(fleet)
            #expect(steps["edge-01"]?["state"] as? String == "failed")
            #expect(steps["edge-01"]?["detail"] as? String == "subcloud went offline", "\(steps)")
            #expect(steps["edge-02"]?["state"] as? String == "aborted", "stop-on-failure: the next site never starts")
        }
    }

    @Test("config strategy: a site that applied the generation is skipped as in sync; one whose agent refuses it fails its step with the site's reason")
    func configStrategy() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let marker = fleet.directory.appending("reloaded")
            for name in ["edge-01", "edge-02"] {
                let root = fleet.directory.appending("root-\(name)")
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
                // Only edge-01 allows the reload action the generation names.
                let reload = name == "edge-01" ? ["--reload-action", "touch-marker=/usr/bin/touch \(marker)"] : []
                _ = try await ContentPlaneTests.enrolled(fleet, name, extra: ["--config-root", root] + reload)
                #expect(try await fleet.cli(["subcloud", "manage", name]).status == 0)
            }
            let ntp = fleet.directory.appending("ntp.conf")
            try "server 10.0.0.1 iburst\n".write(toFile: ntp, atomically: true, encoding: .utf8)
            #expect(try await fleet.cli(["config", "set", "--all", "\(ntp):/etc/ntp.conf:0644", "--reload", "touch-marker"]).status == 0)
            let settled = await eventually(timeout: .seconds(20)) {
                let views = (try? await fleet.json(["config", "show"])) as? [[String: Any]] ?? []
                return views.compactMap { ($0["state"] as? [String: Any])?["status"] as? String }.sorted() == ["applied", "failed"]
            }
            #expect(settled)
            // A generation no site has is refused up front.
            let unknown = try await fleet.cli(["strategy", "create", "config", "--generation", "9", "--all"])
            #expect(unknown.status != 0 && unknown.output.contains("no config generation 9"), "\(unknown.output)")

            #expect(try await fleet.cli(["strategy", "create", "config", "--generation", "1", "--all", "--no-stop-on-failure"]).status == 0)
            #expect(try await fleet.cli(["strategy", "apply", "config"]).status == 0)
            let watched = try await TernTestSupport.run(
                ChildProcess.productsDirectory + "/tern-controller", ["strategy", "show", "config", "--watch", "--interval", "0.3", "--data", fleet.data],
                timeout: .seconds(120)
            )
            #expect(watched.status != 0, "\(watched.output)")
            let view = try await fleet.json(["strategy", "show", "config"]) as! [String: Any]
            let steps = Dictionary(uniqueKeysWithValues: (view["steps"] as! [[String: Any]]).map { ($0["subcloud"] as! String, $0) })
            #expect(steps["edge-01"]?["state"] as? String == "skipped" && steps["edge-01"]?["detail"] as? String == "already in sync", "\(steps)")
            #expect(steps["edge-02"]?["state"] as? String == "failed", "\(steps)")
            #expect((steps["edge-02"]?["detail"] as? String)?.contains("touch-marker") == true, "\(steps)")
        }
    }
}
