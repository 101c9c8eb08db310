import Agent
import Controller
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Platform
import TernTestSupport
import Testing
import Wire

/// Real mutual TLS 1.3 on 127.0.0.1 between a controller and agents in this process,
/// and real `openssl s_client` against the same port.
@Suite(.serialized) struct MutualTLSTests {
    @Test("agents complete the handshake over mutual TLS and heartbeat")
    func handshakeAndHeartbeats() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        let status = LinkStatus()
        var agents: [ControllerLink] = []
        for name in ["edge-01", "edge-02"] { agents.append(try await makeAgent(name, controller: controller, directory: directory, status: status)) }
        try await withServices(controller.services + agents) {
            // Generous: the suite's other tests load the machine at the same time.
            let heartbeating = await eventually(timeout: .seconds(30)) {
                let all = await controller.live.all
                return all.map(\.name) == ["edge-01", "edge-02"] && all.allSatisfy { $0.heartbeats >= 3 }
            }
            #expect(heartbeating)
            let first = try #require(await controller.live.all.first)
            #expect(first.version == 1)
            #expect(first.software.hasPrefix("tern-agent "))
            #expect(await status.negotiated?.peerIdentity == "tern-controller")
            // What the agents report reaches the registry.
            let reported = await eventually { (try? await controller.store.subcloud(named: "edge-01"))?.health?.memoryTotalBytes != nil }
            #expect(reported)
        }
    }

    @Test("a client without a certificate never reaches the protocol")
    func noClientCertificate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        let port = controller.wireServer.localAddress!.port!
        try await withServices(controller.services) {
            // Keep the client's input open for a moment: in TLS 1.3 the server's refusal
            // arrives as an alert after the client has already sent its Finished.
            let command = "(printf '\\000\\000\\000'; sleep 1) | openssl s_client -quiet -connect 127.0.0.1:\(port) -tls1_3 -alpn tern/1 -CAfile \(directory.appending("controller/pki/ca.pem"))"
            let result = try await run("/bin/sh", ["-c", command])
            #expect(result.status != 0)
            #expect(result.output.contains("alert certificate required"), "\(result.output)")
            #expect(await controller.live.count == 0)
        }
    }

    @Test("TLS 1.2 is refused")
    func tls12Refused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        let port = controller.wireServer.localAddress!.port!
        try await withServices(controller.services) {
            let result = try await run("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-tls1_2"], input: "")
            #expect(result.status != 0)
            #expect(result.output.contains("protocol version") || result.output.contains("unsupported protocol") || result.output.contains("wrong version"), "\(result.output)")
        }
    }

    @Test("a certificate from another CA is refused; the controller's own agents are not disturbed")
    func foreignCertificate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        let strangerDirectory = try TemporaryDirectory(prefix: "tern-stranger")
        defer { strangerDirectory.remove() }
        let stranger = try await makeController(strangerDirectory)
        let status = LinkStatus()
        // Provisioned by another controller's CA, but pointed at this one.
        let state = directory.appending("agent-intruder")
        let port = controller.wireServer.localAddress!.port!
        try stranger.pki.provisionAgent(name: "edge-01", stateDirectory: state, controller: "127.0.0.1:\(port)")
        try AtomicFile.write(try controller.pki.authority.certificatePEM, to: state + "/ca.pem")
        var configuration = AgentConfiguration(stateDirectory: state, controllerHost: "127.0.0.1", controllerPort: port)
        configuration.reconnectBase = .milliseconds(50)
        configuration.reconnectCap = .milliseconds(200)
        configuration.useFwupd = false
        let intruder = ControllerLink(configuration: configuration, status: status, logger: quiet("intruder"))
        let honest = try await makeAgent("edge-02", controller: controller, directory: directory)
        try await withServices(controller.services + [intruder, honest]) {
            let honestUp = await eventually { await controller.live.all.map(\.name) == ["edge-02"] }
            #expect(honestUp)
            try await Task.sleep(for: .milliseconds(500))
            #expect(await controller.live.all.map(\.name) == ["edge-02"])
            #expect(await status.connections == 0)
        }
    }
}
