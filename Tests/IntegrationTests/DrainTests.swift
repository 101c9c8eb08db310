import Agent
import Controller
import Foundation
import NIOCore
import TernTestSupport
import Testing
import Wire

/// A graceful shutdown: the wire server sends every agent GOAWAY once, from one place,
/// and waits for them to leave, up to the drain timeout.
@Suite(.serialized) struct DrainTests {
    @Test("at shutdown every agent is sent GOAWAY(NO_ERROR) and the controller stops as soon as they have left, well inside the drain timeout")
    func goAwayToAll() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory) { $0.drainTimeout = .seconds(30) }
        let names = ["edge-01", "edge-02", "edge-03"]
        var agents: [ControllerLink] = []
        var statuses: [LinkStatus] = []
        for name in names {
            let status = LinkStatus()
            agents.append(try await makeAgent(name, controller: controller, directory: directory, status: status))
            statuses.append(status)
        }
        try await withServices(agents) {
            let shutdownAt = try await withServices(controller.services) {
                let connected = await eventually { await controller.live.count == names.count }
                #expect(connected)
                return ContinuousClock.now
            }
            // withServices returned: every service of the controller has ended. Had the
            // agents not been told, or their leaving not been noticed, that takes 30 s.
            let took = ContinuousClock.now - shutdownAt
            #expect(took < .seconds(15), "shutdown took \(took)")
            print("graceful shutdown with \(names.count) agents: \(took)")
            for (name, status) in zip(names, statuses) {
                let refusal = await status.lastRefusal
                #expect(refusal?.code == .noError, "\(name): \(String(describing: refusal))")
                #expect(refusal?.reason == "controller shutting down")
            }
        }
    }

    @Test("a peer that does not leave is closed when the drain timeout passes, and shutdown does not wait longer")
    func drainTimeout() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory) { configuration in
            configuration.drainTimeout = .seconds(2)
            // Far beyond the drain: only the drain can end this connection in time.
            configuration.tlsHandshakeTimeout = .seconds(120)
        }
        let port = controller.wireServer.localAddress!.port!
        var stayer: (any Channel)?
        let shutdownAt = try await withServices(controller.services) {
            stayer = try await UnauthenticatedTests.idle(port: port)
            let held = await eventually { controller.wireServer.unauthenticated.open == 1 }
            #expect(held)
            return ContinuousClock.now
        }
        let took = ContinuousClock.now - shutdownAt
        #expect(took < .seconds(10), "shutdown took \(took)")
        let closed = await eventually(timeout: .seconds(5)) { stayer?.isActive == false }
        #expect(closed, "the peer's connection outlived the drain")
        print("graceful shutdown with a peer that stays: \(took)")
    }
}
