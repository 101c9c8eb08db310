import Foundation
import TernTestSupport
import Testing

/// A controller and agents as real processes on 127.0.0.1, driven through the CLI
/// the way an operator would.
final class ProcessFleet: @unchecked Sendable {
    let directory: TemporaryDirectory
    var controller: ChildProcess?
    var wirePort = 0
    var enrolPort = 0
    var apiPort = 0
    var agents: [String: ChildProcess] = [:]
    private var controllerRuns = 0

    var data: String { self.directory.appending("controller") }

    init() throws {
        self.directory = try TemporaryDirectory(prefix: "tern-fleet")
    }

    /// Runs `body` with a fresh fleet and stops every process afterwards, pass or fail.
    static func with(_ body: (ProcessFleet) async throws -> Void) async throws {
        let fleet = try ProcessFleet()
        do {
            try await body(fleet)
        } catch {
            await fleet.stop()
            throw error
        }
        await fleet.stop()
    }

    /// Starts `tern-controller serve`; ports stay the same across restarts.
    func startController(heartbeat: Int = 1, missed: Int = 2, environment: [String: String] = [:], extra: [String] = []) async throws {
        self.controllerRuns += 1
        let process = try ChildProcess("tern-controller", [
            "serve", "--data", self.data, "--listen", "127.0.0.1:\(self.wirePort)", "--enrol-listen", "127.0.0.1:\(self.enrolPort)",
            "--api-listen", "127.0.0.1:\(self.apiPort)", "--heartbeat-interval", "\(heartbeat)", "--missed-heartbeats", "\(missed)",
        ] + extra, outputPath: self.directory.appending("controller-\(self.controllerRuns).log"), environment: environment)
        self.controller = process
        let up = await eventually(timeout: .seconds(20)) {
            Self.port(in: process.output, of: "wire server listening") != nil
                && Self.port(in: process.output, of: "enrolment server listening") != nil
                && process.output.contains("API listening")
        }
        try #require(up, "controller did not start: \(process.output)")
        self.wirePort = Self.port(in: process.output, of: "wire server listening")!
        self.enrolPort = Self.port(in: process.output, of: "enrolment server listening")!
        self.apiPort = Self.port(in: process.output, of: "API listening")!
    }

    static func port(in log: String, of message: String) -> Int? {
        for line in log.split(separator: "\n") where line.hasSuffix(message) {
            guard let range = line.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression) else { continue }
            return Int(line[range].split(separator: ":").last!)
        }
        return nil
    }

    /// Runs `tern-controller ARGS --data DATA`.
    func cli(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await run(ChildProcess.productsDirectory + "/tern-controller", arguments + ["--data", self.data])
    }

    /// Decodes `tern-controller ARGS --json`.
    func json(_ arguments: [String]) async throws -> Any {
        let result = try await self.cli(arguments + ["--json"])
        try #require(result.status == 0, "\(arguments): \(result.output)")
        return try JSONSerialization.jsonObject(with: Data(result.output.utf8), options: [.fragmentsAllowed])
    }

    /// `subcloud add NAME`, returning the token and fingerprint it printed.
    func add(_ name: String) async throws -> (token: String, fingerprint: String) {
        let added = try await self.json(["subcloud", "add", name]) as! [String: Any]
        return (added["bootstrapToken"] as! String, "sha256:" + (added["caFingerprint"] as! String))
    }

    /// `tern-agent enroll` for `name` with `token`.
    func enrol(_ name: String, token: String, fingerprint: String, extra: [String] = []) async throws -> (status: Int32, output: String) {
        try await run(ChildProcess.productsDirectory + "/tern-agent", [
            "enroll", "--controller", "127.0.0.1:\(self.enrolPort)", "--token=\(token)", "--ca-fingerprint", fingerprint,
            "--state", self.directory.appending("agent-\(name)"),
        ] + extra)
    }

    /// A DMI fixture tree (real sysfs file names) for one agent.
    func sysRoot(for name: String, biosVersion: String) throws -> String {
        let root = self.directory.appending("sys-\(name)")
        let dmi = root + "/class/dmi/id"
        try FileManager.default.createDirectory(atPath: dmi, withIntermediateDirectories: true)
        let files = [
            "bios_vendor": "American Megatrends International, LLC.", "bios_version": biosVersion, "bios_date": "03/14/2024",
            "board_vendor": "Supermicro", "board_name": "X12STL-F", "board_version": "1.01",
            "sys_vendor": "Supermicro", "product_name": "SYS-E300-12D", "product_version": "0123456789",
        ]
        for (file, value) in files { try (value + "\n").write(toFile: dmi + "/" + file, atomically: true, encoding: .utf8) }
        return root
    }

    /// Starts `tern-agent run` for an enrolled agent.
    @discardableResult
    func startAgent(_ name: String, biosVersion: String = "1.4a", extra: [String] = []) throws -> ChildProcess {
        let agent = try ChildProcess("tern-agent", [
            "run", "--state", self.directory.appending("agent-\(name)"), "--sys-root", try self.sysRoot(for: name, biosVersion: biosVersion),
            "--reconnect-cap", "1", "--no-fwupd",
        ] + extra, outputPath: self.directory.appending("agent-\(name)-\(UUID().uuidString.prefix(4)).log"))
        self.agents[name] = agent
        return agent
    }

    /// Adds, enrols and starts an agent for each name; true once all are online.
    func enrolAndStart(_ names: [String], extra: [String] = []) async throws -> Bool {
        for name in names {
            let (token, fingerprint) = try await self.add(name)
            let enrolled = try await self.enrol(name, token: token, fingerprint: fingerprint)
            try #require(enrolled.status == 0, "\(enrolled.output)")
            try self.startAgent(name, extra: extra)
        }
        return await eventually(timeout: .seconds(30)) {
            (try? await self.subclouds())?.filter { names.contains($0.key) && $0.value["availability"] as? String == "online" }.count == names.count
        }
    }

    /// The subclouds as `subcloud list --json` shows them, by name.
    func subclouds() async throws -> [String: [String: Any]] {
        let list = try await self.json(["subcloud", "list"]) as! [[String: Any]]
        return Dictionary(uniqueKeysWithValues: list.map { ($0["name"] as! String, $0) })
    }

    func stop() async {
        for agent in self.agents.values where agent.isRunning {
            agent.signal(SIGTERM)
            _ = await agent.wait(timeout: .seconds(10))
        }
        if let controller = self.controller, controller.isRunning {
            controller.signal(SIGTERM)
            _ = await controller.wait(timeout: .seconds(20))
        }
        self.directory.remove()
    }
}
