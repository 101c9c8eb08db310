import Foundation
import TernTestSupport
import Testing

/// The shipped binaries, as an operator runs them: real processes on 127.0.0.1.
@Suite(.serialized) struct ProcessTests {
    static func port(from log: String) -> Int? {
        // "address=[IPv4]127.0.0.1/127.0.0.1:PORT"
        guard let range = log.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression) else { return nil }
        return Int(log[range].split(separator: ":").last!)
    }

    @Test("controller and agents: handshake, heartbeats, GOAWAY on SIGTERM, reconnect after restart")
    func lifecycle() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = directory.appending("controller")
        let initialise = try ChildProcess("tern-controller", ["certs", "init", "--data", data], outputPath: directory.appending("init.log"))
        #expect(await initialise.wait() == 0)
        #expect(initialise.output.contains("CA fingerprint: sha256:"))
        for name in ["edge-01", "edge-02"] {
            let issue = try ChildProcess("tern-controller", ["certs", "issue", name, "--data", data, "--out", directory.appending(name)], outputPath: directory.appending("issue-\(name).log"))
            #expect(await issue.wait() == 0)
        }
        // Keys never leave the node in readable form for others.
        let mode = try FileManager.default.attributesOfItem(atPath: directory.appending("edge-01/agent-key.pem"))[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let controller = try ChildProcess("tern-controller", ["serve", "--data", data, "--listen", "127.0.0.1:0", "--heartbeat-interval", "1", "--log-level", "debug"], outputPath: directory.appending("controller.log"))
        let listening = await eventually { Self.port(from: controller.output) != nil }
        let port = try #require(listening ? Self.port(from: controller.output) : nil)
        let agents = try ["edge-01", "edge-02"].map { name in
            try ChildProcess("tern-agent", ["run", "--controller", "127.0.0.1:\(port)", "--state", directory.appending(name), "--reconnect-cap", "2"], outputPath: directory.appending("\(name).log"))
        }
        let heartbeating = await eventually(timeout: .seconds(15)) {
            let log = controller.output
            return log.contains("subcloud=edge-01 [Controller] heartbeat") && log.contains("sequence=2 subcloud=edge-02 [Controller] heartbeat")
        }
        #expect(heartbeating, "\(controller.output)")

        controller.signal(SIGTERM)
        #expect(await controller.wait() == 0)
        for agent in agents {
            let toldToGo = await eventually { agent.output.contains("controller sent GOAWAY") }
            #expect(toldToGo, "\(agent.output)")
        }

        // The same port again: every agent comes back by itself, each once.
        let restarted = try ChildProcess("tern-controller", ["serve", "--data", data, "--listen", "127.0.0.1:\(port)", "--heartbeat-interval", "1"], outputPath: directory.appending("controller-2.log"))
        let reconnected = await eventually(timeout: .seconds(20)) {
            let log = restarted.output
            return log.contains("subcloud=edge-01 version=1 [Controller] agent connected") && log.contains("subcloud=edge-02 version=1 [Controller] agent connected")
        }
        #expect(reconnected, "\(restarted.output)")
        #expect(restarted.output.components(separatedBy: "agent connected").count - 1 == 2)
        restarted.signal(SIGTERM)
        #expect(await restarted.wait() == 0)
        for agent in agents {
            agent.signal(SIGTERM)
            #expect(await agent.wait() == 0)
        }
    }
}
