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
    /// A TCP connection that sends `bytes` (if any) and then just sits there. With
    /// `refusable`, the server may close it before all the bytes are out (a refused upload
    /// is closed at once): the write is then not waited for, and its failure is the point.
    static func idle(port: Int, sending bytes: [UInt8] = [], refusable: Bool = false) async throws -> Channel {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        if bytes.isEmpty { return channel }
        if refusable {
            channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
        } else {
            try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
        }
        return channel
    }

    static func openCount(_ channels: [Channel]) -> Int { channels.filter(\.isActive).count }

    @Test("past the cap, connections wait in the accept queue and are taken in turn as places free; none lives past its TLS deadline; an agent still connects")
    func capAndDeadline() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory) { configuration in
            configuration.maxUnauthenticatedConnections = 4
            configuration.tlsHandshakeTimeout = .seconds(3)
        }
        let agent = try await makeAgent("edge-01", controller: controller, directory: directory)
        try await withServices(controller.services) {
            // Both ports at once, so that one round of deadlines covers both.
            let listeners = [
                (port: controller.wireServer.localAddress!.port!, connections: controller.wireServer.unauthenticated),
                (port: controller.enrolmentServer.localAddress!.port!, connections: controller.enrolmentServer.unauthenticated),
            ]
            var byPort: [[Channel]] = []
            for listener in listeners {
                var channels: [Channel] = []
                for _ in 0..<12 { channels.append(try await Self.idle(port: listener.port)) }
                byPort.append(channels)
            }
            for (listener, channels) in zip(listeners, byPort) {
                // Twelve idle peers, four places: three rounds of deadlines, each peer accepted in
                // turn and closed at its own deadline; never more than four held, none refused.
                let expired = await eventually(timeout: .seconds(40)) { Self.openCount(channels) == 0 }
                #expect(expired, "port \(listener.port): \(Self.openCount(channels)) still open")
                #expect(listener.connections.accepted == 12, "port \(listener.port): \(listener.connections.accepted) accepted")
                #expect(listener.connections.peak == 4, "port \(listener.port): peak \(listener.connections.peak)")
                #expect(listener.connections.pauses >= 1)
                #expect(listener.connections.open == 0)
            }
            // A full house of idle peers again, then a real agent: it waits its turn in the
            // accept queue and is in once a squatter's deadline has passed.
            var squatters: [Channel] = []
            for _ in 0..<4 { squatters.append(try await Self.idle(port: listeners[0].port)) }
            try await withServices([agent]) {
                let connected = await eventually(timeout: .seconds(30)) { await controller.live.count == 1 }
                #expect(connected, "a real agent was locked out")
            }
            for channel in squatters { try? await channel.close() }
            let metrics = try await Self.metrics(controller)
            #expect(metrics.contains("tern_accept_pauses_total{port=\"wire\"}"))
        }
    }

    static func metrics(_ controller: ControllerApp) async throws -> String {
        var addresses = controller.apiAddress.makeAsyncIterator()
        let address = try #require(await addresses.next() ?? nil)
        let response = try await HTTPExchange(host: "127.0.0.1", port: address.port!, tls: nil, timeout: .seconds(10)).send(.GET, "/metrics", headers: [], body: nil)
        return String(decoding: response.body, as: UTF8.self)
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
            let refused = try await Self.idle(port: port, sending: upload, refusable: true)
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
