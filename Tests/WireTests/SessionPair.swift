import NIOCore
import Testing
@testable import Wire

/// An agent and a controller state machine wired back to back, with a test clock.
struct SessionPair {
    var agent: SessionStateMachine
    var controller: SessionStateMachine
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func configuration(_ name: String) -> SessionConfiguration {
        var configuration = SessionConfiguration(identity: name, software: "test")
        configuration.heartbeatInterval = .seconds(1)
        configuration.idleTimeout = .seconds(3)
        configuration.streamWindow = 1000
        configuration.connectionWindow = 1500
        configuration.maxStreams = 2
        configuration.maxFrameSize = WireLimits.minMaxFrameSize
        return configuration
    }

    init(agent: SessionConfiguration = configuration("edge-01"), controller: SessionConfiguration = configuration("central")) {
        self.agent = SessionStateMachine(role: .client, configuration: agent)
        self.controller = SessionStateMachine(role: .server, configuration: controller)
    }

    /// Runs the handshake; returns what each side negotiated.
    mutating func establish() throws -> (agent: Negotiated, controller: Negotiated) {
        #expect(self.controller.start(now: self.now) == nil)
        let helloValue = self.agent.start(now: self.now)
        let hello = try #require(helloValue)
        guard case .established(let controllerSide, let reply?) = self.controller.received(hello, now: self.now) else {
            Issue.record("controller did not accept HELLO")
            throw SessionPairError()
        }
        guard case .established(let agentSide, nil) = self.agent.received(reply, now: self.now) else {
            Issue.record("agent did not accept WELCOME")
            throw SessionPairError()
        }
        return (agentSide, controllerSide)
    }

    struct SessionPairError: Error {}
}

extension SessionStateMachine.ReceiveAction {
    /// The code of a connection error, if this is one.
    var connectionErrorCode: WireErrorCode? {
        if case .closeConnection(let error, _) = self { return error.code }
        return nil
    }

    /// The GOAWAY a connection error sends.
    var goAwayCode: WireErrorCode? {
        if case .closeConnection(_, let frame?) = self, case .goAway(let goAway) = frame.payload { return goAway.code }
        return nil
    }

    var streamErrorCode: WireErrorCode? {
        if case .resetStream(_, let error, let frame, _) = self, case .reset(let code) = frame.payload, code == error.code { return code }
        return nil
    }
}
