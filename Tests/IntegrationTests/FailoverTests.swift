import Agent
import Controller
import Foundation
import TernTestSupport
import Testing

/// Agents that know several controller addresses (replicas): they move to the next
/// when the one they use fails, and back off only when every one has failed.
@Suite(.serialized) struct FailoverTests {
    @Test("an agent with two controller addresses uses the first, and moves to the second at once when the first dies")
    func movesToTheNextAddress() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        let wirePort = controller.wireServer.localAddress!.port!
        // Two ways to the same controller, as two replicas behind their own addresses.
        let first = try await FaultProxy(targetPort: wirePort)
        let second = try await FaultProxy(targetPort: wirePort)
        let state = directory.appending("agent-edge-01")
        try await controller.provisionAgent("edge-01", stateDirectory: state, controller: "127.0.0.1:\(first.port)\n127.0.0.1:\(second.port)")
        let saved = try AgentIdentity.controllerAddresses(stateDirectory: state)
        #expect(saved == ["127.0.0.1:\(first.port)", "127.0.0.1:\(second.port)"])
        var configuration = AgentConfiguration(stateDirectory: state, controllers: try saved.map(ControllerAddress.init(parsing:)))
        configuration.useFwupd = false
        // A long backoff: an agent that backed off instead of moving on would not be back in time.
        configuration.reconnectBase = .milliseconds(200)
        configuration.reconnectCap = .seconds(60)
        let status = LinkStatus()
        let agent = ControllerLink(configuration: configuration, status: status, logger: quiet("test.agent"))
        try await withServices(controller.services + [agent]) {
            let connected = await eventually { await controller.live.count == 1 }
            #expect(connected)
            #expect(first.connections == 1 && second.connections == 0)
            try await first.shutDown()
            let lostAt = ContinuousClock.now
            let moved = await eventually(timeout: .seconds(10)) {
                let connected = await status.isConnected
                return await controller.live.count == 1 && second.connections >= 1 && connected
            }
            #expect(moved)
            print("failover to the second address: \(ContinuousClock.now - lostAt)")
        }
    }
}
