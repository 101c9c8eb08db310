import Agent
import Controller
import Foundation
import NIOCore
import NIOPosix
import TernTestSupport
import Testing
import Wire

/// Nothing unauthenticated holds a socket for long or in numbers (issue 7, item 6):
/// raw TCP peers against the real listeners, then a real agent that still gets in.
@Suite(.serialized) struct UnauthenticatedTests {
    /// A TCP connection that sends `bytes` (if any) and then just sits there.
    static func idle(port: Int, sending bytes: [UInt8] = []) async throws -> Channel {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        if !bytes.isEmpty { try await channel.writeAndFlush(ByteBuffer(bytes: bytes)) }
        return channel
    }

    static func openCount(_ channels: [Channel]) -> Int { channels.filter(\.isActive).count }

    @Test("past the cap, idle TCP connections are closed at accept; the rest at the TLS deadline; an agent still connects")
    func capAndDeadline() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory) { configuration in
            configuration.maxUnauthenticatedConnections = 4
            // Long enough that the cap is seen before the deadline even when this test
            // process is starved by the rest of the suite.
            configuration.tlsHandshakeTimeout = .seconds(12)
        }
        let agent = try await makeAgent("edge-01", controller: controller, directory: directory)
        try await withServices(controller.services) {
            // Both ports at once, so that one deadline's wait covers both.
            var byPort: [(port: Int, channels: [Channel])] = []
            for port in [controller.wireServer.localAddress!.port!, controller.enrolmentServer.localAddress!.port!] {
                var channels: [Channel] = []
                for _ in 0..<12 { channels.append(try await Self.idle(port: port)) }
                byPort.append((port, channels))
            }
            for (port, channels) in byPort {
                // The cap: four may wait for their TLS handshake, eight are closed at once.
                let capped = await eventually(timeout: .seconds(8)) { Self.openCount(channels) == 4 }
                #expect(capped, "port \(port): \(Self.openCount(channels)) open")
            }
            for (port, channels) in byPort {
                // The deadline: none outlives it.
                let expired = await eventually(timeout: .seconds(20)) { Self.openCount(channels) == 0 }
                #expect(expired, "port \(port): \(Self.openCount(channels)) still open after the TLS deadline")
            }
            // Places are given back: a full house of idle peers again, then a real agent once they are gone.
            var squatters: [Channel] = []
            for _ in 0..<4 { squatters.append(try await Self.idle(port: controller.wireServer.localAddress!.port!)) }
            try await withServices([agent]) {
                // In once the squatters' TLS deadline has passed.
                let connected = await eventually(timeout: .seconds(45)) { await controller.live.count == 1 }
                #expect(connected, "a real agent was locked out")
            }
            for channel in squatters { try? await channel.close() }
        }
    }

    @Test("the API closes idle connections, slow requests, and a refused large upload at once (no half-closed socket)")
    func apiTimeouts() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory) { configuration in
            configuration.apiIdleTimeout = .seconds(1)
            configuration.apiRequestTimeout = .seconds(3)
        }
        try await withServices(controller.services) {
            var addresses = controller.apiAddress.makeAsyncIterator()
            let port = try #require(await addresses.next() ?? nil).port!
            // Connected, never a byte: the idle timeout.
            let silent = try await Self.idle(port: port)
            // Half a request head: still idle to HTTP, same rule.
            let halfHead = try await Self.idle(port: port, sending: Array("GET /healthz HTTP/1.1\r\nHost: x\r\n".utf8))
            // A whole head with the token, then a body that stops coming: the request deadline.
            let token = try String(contentsOfFile: directory.appending("controller/api-token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let slowStart = ContinuousClock.now
            let slowBody = try await Self.idle(port: port, sending: Array(
                "POST /v1/subclouds HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\":".utf8
            ))
            // A byte every 400 ms: never idle for the idle timeout, never done either (slowloris).
            // Sent from the channel's event loop, so that a test process whose cooperative
            // pool is busy with other tests still keeps the pace.
            let trickle = slowBody.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(400), delay: .milliseconds(400)) { _ in
                if slowBody.isActive { slowBody.writeAndFlush(ByteBuffer(string: " "), promise: nil) }
            }
            defer { trickle.cancel() }
            // 256 KiB without a token: 401, then the connection is closed, not left half-open.
            let upload = Array("POST /v1/subclouds HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 262144\r\n\r\n".utf8)
                + [UInt8](repeating: 0x20, count: 262_144)
            let refused = try await Self.idle(port: port, sending: upload)
            // Upper bounds roomy enough for a test process starved by the rest of the suite;
            // the server acts in well under a second (an idle peer lasts 1 s).
            let refusedClosed = await eventually(timeout: .seconds(10)) { !refused.isActive }
            #expect(refusedClosed, "the refused upload's connection stayed open")
            let idleClosed = await eventually(timeout: .seconds(10)) { !silent.isActive && !halfHead.isActive }
            #expect(idleClosed, "idle connections outlived the idle timeout")
            let slowClosed = await eventually(timeout: .seconds(15)) { !slowBody.isActive }
            #expect(slowClosed, "a request whose body stopped coming outlived the request deadline")
            // Closed by the request deadline (3 s): the trickle kept the idle rule (1 s) from firing.
            #expect(ContinuousClock.now - slowStart >= .seconds(2.5))
            // The API still answers.
            let health = try await APIClient(host: "127.0.0.1", port: port, token: token).send(.GET, "/healthz")
            #expect(String(decoding: health, as: UTF8.self) == "ok\n")
        }
    }

    @Test("--api-tls: the CLI's client reaches the API over TLS 1.3 trusting the controller's CA; plain HTTP does not")
    func apiOverTLS() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory) { $0.apiTLS = true }
        try await withServices(controller.services) {
            var addresses = controller.apiAddress.makeAsyncIterator()
            let port = try #require(await addresses.next() ?? nil).port!
            let token = try String(contentsOfFile: directory.appending("controller/api-token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let address = try String(contentsOfFile: directory.appending("controller/api-address"), encoding: .utf8)
            #expect(address.hasPrefix("https://"))
            let ca = try String(contentsOfFile: directory.appending("controller/pki/ca.pem"), encoding: .utf8)
            let secure = APIClient(host: "127.0.0.1", port: port, token: token, tls: try APIClient.tls(trusting: ca))
            let body = try await secure.send(.GET, "/v1/subclouds")
            #expect(String(decoding: body, as: UTF8.self).hasPrefix("["))
            await #expect(throws: (any Error).self) { _ = try await APIClient(host: "127.0.0.1", port: port, token: token).send(.GET, "/v1/subclouds") }
            // Another CA is not trusted.
            let stranger = try CertificateAuthority(name: "Tern fleet CA")
            await #expect(throws: (any Error).self) {
                _ = try await APIClient(host: "127.0.0.1", port: port, token: token, tls: try APIClient.tls(trusting: try stranger.certificatePEM)).send(.GET, "/v1/subclouds")
            }
        }
    }
}
