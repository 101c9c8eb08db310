import NIOCore
import Testing
@testable import Wire

/// The connection logic, driven from both ends without sockets.
@Suite struct SessionStateMachineTests {
    @Test("the handshake settles version, features, limits and timers")
    func handshake() throws {
        var agentConfiguration = SessionPair.configuration("edge-01")
        agentConfiguration.versions = [1, 2]
        agentConfiguration.features = ["zlib", "from-the-future"]
        var pair = SessionPair(agent: agentConfiguration)
        let (agent, controller) = try pair.establish()
        #expect(agent.version == 1 && controller.version == 1)
        #expect(agent.features == ["zlib"] && controller.features == ["zlib"])
        #expect(controller.peerIdentity == "edge-01")
        #expect(agent.peerIdentity == "central")
        #expect(agent.heartbeatInterval == .seconds(1))
        #expect(agent.idleTimeout == .seconds(3))
        #expect(pair.agent.inboundMaxFrameSize == WireLimits.minMaxFrameSize)
    }

    @Test("a peer one version newer still connects on the common version")
    func newerAgent() throws {
        var agentConfiguration = SessionPair.configuration("edge-01")
        agentConfiguration.versions = [2, 1]
        var controllerConfiguration = SessionPair.configuration("central")
        controllerConfiguration.versions = [1]
        var pair = SessionPair(agent: agentConfiguration, controller: controllerConfiguration)
        #expect(try pair.establish().agent.version == 1)
    }

    @Test("no common version is refused with VERSION_MISMATCH and a reason")
    func versionMismatch() throws {
        var agentConfiguration = SessionPair.configuration("edge-01")
        agentConfiguration.versions = [7]
        var pair = SessionPair(agent: agentConfiguration)
        _ = pair.controller.start(now: pair.now)
        let helloValue = pair.agent.start(now: pair.now)
        let hello = try #require(helloValue)
        let action = pair.controller.received(hello, now: pair.now)
        #expect(action.goAwayCode == .versionMismatch)
        guard case .closeConnection(_, let goAway?) = action else { return }
        // The agent learns why.
        guard case .goAway(let received) = pair.agent.received(goAway, now: pair.now) else {
            Issue.record("agent did not surface the GOAWAY")
            return
        }
        #expect(received.code == .versionMismatch)
        #expect(received.reason.contains("[7]"))
    }

    @Test("HELLO naming someone other than the certificate is UNAUTHORIZED")
    func identityMismatch() throws {
        var pair = SessionPair()
        pair.controller.peerCertificateVerified(identity: "edge-02")
        _ = pair.controller.start(now: pair.now)
        let helloValue = pair.agent.start(now: pair.now)
        let hello = try #require(helloValue)
        #expect(pair.controller.received(hello, now: pair.now).goAwayCode == .unauthorized)
    }

    @Test("data before the handshake is HANDSHAKE_REQUIRED")
    func dataBeforeHandshake() {
        var pair = SessionPair()
        _ = pair.controller.start(now: pair.now)
        let data = Frame(streamID: 1, payload: .data(ByteBuffer(bytes: [1, 2, 3])))
        #expect(pair.controller.received(data, now: pair.now).goAwayCode == .handshakeRequired)
        // Closed for good: later frames are ignored.
        #expect(pair.controller.received(data, now: pair.now).connectionErrorCode == nil)
    }

    @Test("no handshake in time is HANDSHAKE_TIMEOUT")
    func handshakeTimeout() {
        var pair = SessionPair()
        _ = pair.controller.start(now: pair.now)
        guard case .none = pair.controller.tick(now: pair.now + .seconds(9)) else {
            Issue.record("closed early")
            return
        }
        guard case .closeConnection(let error, _) = pair.controller.tick(now: pair.now + .seconds(10)) else {
            Issue.record("did not time out")
            return
        }
        #expect(error.code == .handshakeTimeout)
    }

    @Test("silence brings a PING after one heartbeat interval and IDLE_TIMEOUT after the idle timeout")
    func keepalive() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        guard case .none = pair.agent.tick(now: pair.now + .milliseconds(900)) else { Issue.record("early ping"); return }
        guard case .write(let ping) = pair.agent.tick(now: pair.now + .seconds(1)) else { Issue.record("no ping"); return }
        guard case .write(let pong) = pair.controller.received(ping, now: pair.now + .seconds(1)) else { Issue.record("no pong"); return }
        #expect(pong.flags.contains(.ack))
        guard case .pong(let roundTrip) = pair.agent.received(pong, now: pair.now + .milliseconds(1_040)) else { Issue.record("no rtt"); return }
        #expect(roundTrip == .milliseconds(40))
        // Hearing the PONG reset the silence clock; idle timeout counts from there.
        guard case .closeConnection(let error, _) = pair.agent.tick(now: pair.now + .milliseconds(4_040)) else {
            Issue.record("no idle timeout")
            return
        }
        #expect(error.code == .idleTimeout)
    }

    @Test("the next deadline is the handshake timeout, then one heartbeat after the last frame heard, then the idle timeout once a PING is out; ticking before it does nothing")
    func nextDeadline() throws {
        var pair = SessionPair()
        #expect(pair.controller.nextDeadline == nil, "nothing to time before start")
        _ = pair.controller.start(now: pair.now)
        #expect(pair.controller.nextDeadline == pair.now + .seconds(10))
        _ = try pair.establish()
        #expect(pair.agent.nextDeadline == pair.now + .seconds(1))
        // A frame heard moves it later.
        let sent = pair.controller.ping(now: pair.now + .milliseconds(500))
        let ping = try #require(sent)
        _ = pair.agent.received(ping, now: pair.now + .milliseconds(500))
        #expect(pair.agent.nextDeadline == pair.now + .milliseconds(1_500))
        guard case .none = pair.agent.tick(now: pair.now + .milliseconds(1_499)) else { Issue.record("acted before its deadline"); return }
        // At the deadline: a PING goes out, and then only the idle timeout is left to wait for.
        guard case .write = pair.agent.tick(now: pair.now + .milliseconds(1_500)) else { Issue.record("no ping at the deadline"); return }
        #expect(pair.agent.nextDeadline == pair.now + .milliseconds(3_500))
        guard case .closeConnection = pair.agent.tick(now: pair.now + .milliseconds(3_500)) else { Issue.record("no idle timeout at the deadline"); return }
        #expect(pair.agent.nextDeadline == nil, "closed: nothing left to time")
    }

    @Test("a transfer stream opens, carries data within its window, and closes from both ends")
    func streamLifecycle() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        let id = try #require(pair.agent.nextStreamID())
        #expect(id == 1)
        let request = try pair.agent.send(.transferRequest(TransferRequest(digest: nil, firstBlock: 0)), on: id, endStream: true)
        guard case .message(1, .transferRequest, true) = pair.controller.received(request, now: pair.now) else {
            Issue.record("request not delivered")
            return
        }
        #expect(pair.controller.sendableBytes(on: 1) == 1000)  // the agent's stream window
        let data = try pair.controller.sendData(ByteBuffer(repeating: 1, count: 1000), on: 1)
        #expect(pair.controller.sendableBytes(on: 1) == 0)
        guard case .data(1, let bytes, false) = pair.agent.received(data, now: pair.now) else { Issue.record("no data"); return }
        #expect(bytes.readableBytes == 1000)
        // Consuming half a window returns credit.
        let updates = pair.agent.consumed(1000, on: 1)
        #expect(updates.count == 2)  // stream and connection
        for update in updates {
            guard case .windowOpened = pair.controller.received(update, now: pair.now) else { Issue.record("update refused"); return }
        }
        #expect(pair.controller.sendableBytes(on: 1) == 1000)
        let end = try pair.controller.send(.transferEnd(TransferEnd(digest: nil, blocksSent: 1)), on: 1, endStream: true)
        guard case .message(1, .transferEnd, true) = pair.agent.received(end, now: pair.now) else { Issue.record("no end"); return }
        #expect(pair.agent.openStreamCount == 0)
        #expect(pair.controller.openStreamCount == 0)
        // The stream is gone: more DATA on it is a stream error, not a connection error.
        let late = Frame(streamID: 1, payload: .data(ByteBuffer(bytes: [1])))
        #expect(pair.agent.received(late, now: pair.now).streamErrorCode == .streamClosed)
        #expect(pair.agent.isEstablished)
    }

    @Test("DATA on a stream that was never opened is STREAM_NOT_OPEN")
    func dataOnUnopenedStream() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        let frame = Frame(streamID: 9, payload: .data(ByteBuffer(bytes: [1])))
        #expect(pair.agent.received(frame, now: pair.now).goAwayCode == .streamNotOpen)
    }

    @Test("DATA beyond the window is FLOW_CONTROL_ERROR")
    func flowControlViolation() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        let id = try #require(pair.agent.nextStreamID())
        let request = try pair.agent.send(.transferRequest(TransferRequest(digest: nil, firstBlock: 0)), on: id, endStream: true)
        _ = pair.controller.received(request, now: pair.now)
        // A misbehaving controller ignores its window: 1001 bytes against a window of 1000.
        let flood = Frame(streamID: id, payload: .data(ByteBuffer(repeating: 0, count: 1001)))
        #expect(pair.agent.received(flood, now: pair.now).goAwayCode == .flowControlError)
    }

    @Test("a WINDOW_UPDATE past 2^31-1 is FLOW_CONTROL_ERROR")
    func windowOverflow() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        let update = Frame(streamID: 0, payload: .windowUpdate(increment: 0x7FFF_FFFF))
        #expect(pair.agent.received(update, now: pair.now).goAwayCode == .flowControlError)
    }

    @Test("streams beyond max_streams are refused; the connection stays up")
    func streamLimit() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        for id: StreamID in [1, 3, 5] {
            let frame = Frame(streamID: id, payload: .message(.transferRequest(TransferRequest(digest: nil, firstBlock: 0))), flags: .endStream)
            let action = pair.controller.received(frame, now: pair.now)
            if id == 5 {
                #expect(action.streamErrorCode == .refusedStream)
            } else {
                guard case .message = action else { Issue.record("stream \(id) refused"); return }
            }
        }
        #expect(pair.controller.isEstablished)
        // The agent also knows the limit and will not try.
        #expect(pair.agent.nextStreamID() == 1)
    }

    @Test("after GOAWAY no stream is opened, and streams above the last id are refused")
    func goAway() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        let goAwayValue = pair.controller.goAway(reason: "restart")
        let goAway = try #require(goAwayValue)
        guard case .goAway(let received) = pair.agent.received(goAway, now: pair.now) else { Issue.record("no goaway"); return }
        #expect(received.code == .noError && received.lastStreamID == 0)
        #expect(pair.agent.nextStreamID() == nil)
        let late = Frame(streamID: 1, payload: .message(.transferRequest(TransferRequest(digest: nil, firstBlock: 0))))
        #expect(pair.controller.received(late, now: pair.now).streamErrorCode == .refusedStream)
    }

    @Test("unknown messages are ignored on stream 0 and refuse a new stream")
    func unknownMessages() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        let control = Frame(streamID: 0, payload: .message(.unknown(type: 77, payload: ByteBuffer())))
        guard case .none = pair.controller.received(control, now: pair.now) else { Issue.record("not ignored"); return }
        let opener = Frame(streamID: 1, payload: .message(.unknown(type: 78, payload: ByteBuffer())))
        #expect(pair.controller.received(opener, now: pair.now).streamErrorCode == .refusedStream)
        #expect(pair.controller.isEstablished)
    }

    @Test("a second HELLO is a PROTOCOL_ERROR")
    func secondHello() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        var other = SessionStateMachine(role: .client, configuration: SessionPair.configuration("edge-01"))
        let helloValue = other.start(now: pair.now)
        let hello = try #require(helloValue)
        #expect(pair.controller.received(hello, now: pair.now).goAwayCode == .protocolError)
    }

    @Test("a message that cannot open a stream, sent on a new stream, is a PROTOCOL_ERROR")
    func wrongOpener() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        let frame = Frame(streamID: 1, payload: .message(.heartbeat(Heartbeat(sequence: 1, sentAtMillis: 1))))
        #expect(pair.controller.received(frame, now: pair.now).goAwayCode == .protocolError)
    }
}

extension SessionStateMachineTests {
    struct LocalFault: Error, CustomStringConvertible {
        var description: String { "open(/var/lib/tern/secret.key): Permission denied" }
    }

    @Test("a fault of this process tells the peer its code only; the detail stays in the local error")
    func internalDetailStaysLocal() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        let action = pair.controller.fail(.internal(LocalFault()))
        guard case .closeConnection(let error, let frame?) = action, case .goAway(let goAway) = frame.payload else {
            Issue.record("no GOAWAY: \(action)")
            return
        }
        #expect(goAway.code == .internalError)
        #expect(goAway.reason == "internal error")
        #expect(!goAway.reason.contains("secret") && !goAway.reason.contains("/var"))
        // The log line has it all.
        #expect("\(error)".contains("Permission denied"))
        // A protocol error about the peer's own frames still says what was wrong.
        var other = SessionPair()
        _ = try other.establish()
        guard case .closeConnection(_, let versionFrame?) = other.controller.fail(WireError(.frameSizeError, "frame of 99 bytes exceeds the limit of 10")),
              case .goAway(let told) = versionFrame.payload else {
            Issue.record("no GOAWAY")
            return
        }
        #expect(told.reason.contains("99 bytes"))
    }
}
