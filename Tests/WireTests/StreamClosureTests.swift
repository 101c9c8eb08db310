import NIOCore
import Testing
@testable import Wire

/// What happens around a stream's end and a connection's end (issue 7, items 8–10),
/// on the state machines alone.
@Suite struct StreamClosureTests {
    /// The agent opens a transfer stream (TRANSFER_REQUEST with END_STREAM) that the controller accepts.
    func openTransfer(_ pair: inout SessionPair) throws -> StreamID {
        let id = try #require(pair.agent.nextStreamID())
        let request = try pair.agent.send(.transferRequest(TransferRequest(digest: nil, firstBlock: 0)), on: id, endStream: true)
        guard case .message = pair.controller.received(request, now: pair.now) else { throw SessionPair.SessionPairError() }
        return id
    }

    @Test("after the controller answers a message on a half-closed stream with RESET, it sends nothing more on it")
    func nothingAfterReset() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        let id = try self.openTransfer(&pair)
        #expect(pair.controller.isOpenForSending(id))
        #expect(pair.controller.sendableBytes(on: id) > 0)
        // The agent already ended its side: another message on the stream is STREAM_CLOSED.
        let stray = Frame(streamID: id, payload: .message(.transferRequest(TransferRequest(digest: nil, firstBlock: 1))))
        #expect(pair.controller.received(stray, now: pair.now).streamErrorCode == .streamClosed)
        #expect(!pair.controller.isOpenForSending(id))
        #expect(pair.controller.sendableBytes(on: id) == 0)
        #expect(throws: WireError.self) { _ = try pair.controller.sendData(ByteBuffer(repeating: 1, count: 10), on: id) }
        #expect(pair.controller.isEstablished)
    }

    @Test("DATA on a closed stream gives its connection credit back, so the peer's window never drains")
    func creditForClosedStreams() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        let id = try self.openTransfer(&pair)
        // The agent resets the stream; the controller's DATA already in flight still arrives.
        let resetFrame = pair.agent.reset(id, code: .cancel)
        #expect(resetFrame != nil)
        var returned = 0
        var resets = 0
        // 3 x 500 bytes: the whole connection window of 1,500.
        for _ in 0..<3 {
            let late = Frame(streamID: id, payload: .data(ByteBuffer(repeating: 7, count: 500)))
            guard case .resetStream(_, let error, _, let credit) = pair.agent.received(late, now: pair.now) else {
                Issue.record("DATA on a closed stream was not answered with RESET")
                return
            }
            #expect(error.code == .streamClosed)
            resets += 1
            if let credit, case .windowUpdate(let increment) = credit.payload {
                #expect(credit.streamID == 0)
                returned += Int(increment)
            }
        }
        #expect(resets == 3)
        #expect(returned >= 1000, "returned \(returned) of 1500 bytes")
        // And the window really is open again: another full half-window is accepted.
        let id2 = try self.openTransfer(&pair)
        _ = pair.controller.received(Frame(streamID: 0, payload: .windowUpdate(increment: UInt32(returned))), now: pair.now)
        let more = try pair.controller.sendData(ByteBuffer(repeating: 1, count: 700), on: id2)
        guard case .data = pair.agent.received(more, now: pair.now) else {
            Issue.record("the agent refused DATA its window allows")
            return
        }
    }

    @Test("after the peer's GOAWAY(NO_ERROR) the connection is done once no stream is open")
    func doneAfterGoAway() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        let id = try self.openTransfer(&pair)
        let goAwayValue = pair.agent.goAway(reason: "leaving")
        let goAway = try #require(goAwayValue)
        _ = pair.controller.received(goAway, now: pair.now)
        // A stream is still open: it finishes first.
        #expect(!pair.controller.isDoneAfterPeerGoAway)
        let end = try pair.controller.send(.transferEnd(TransferEnd(digest: nil, blocksSent: 0)), on: id, endStream: true)
        _ = pair.agent.received(end, now: pair.now)
        #expect(pair.controller.isDoneAfterPeerGoAway)
        // A GOAWAY with an error code closes at once instead (handled by the handler), never "done".
        var other = SessionPair()
        _ = try other.establish()
        #expect(!other.controller.isDoneAfterPeerGoAway)
    }
}

/// The same rules through the NIO handler.
@Suite struct StreamClosureHandlerTests {
    static func strayMessage(on stream: StreamID) -> [UInt8] {
        var buffer = ByteBuffer()
        Frame(streamID: stream, payload: .message(.transferRequest(TransferRequest(digest: nil, firstBlock: 1)))).write(to: &buffer)
        return Array(buffer.readableBytesView)
    }

    @Test("a serve command for a stream the controller has reset sends no DATA")
    func serveAfterResetIsDropped() throws {
        let pair = try EmbeddedPair()
        try pair.exchange()
        try pair.agent.writeOutbound(WireCommand.openStream(.transferRequest(TransferRequest(digest: nil, firstBlock: 0))))
        try pair.exchange()
        let stream: StreamID = 1
        // A stray frame on the stream the agent already ended: the controller answers
        // RESET(STREAM_CLOSED) before its application answers the request.
        try pair.controller.writeInbound(ByteBuffer(bytes: Self.strayMessage(on: stream)))
        try pair.exchange()
        #expect(pair.framesFromController.contains { $0.streamID == stream && $0.payload == .reset(.streamClosed) })
        let source = try MemorySource(object: BlockCodecTests.random(8192), blockSize: 4096, compress: false)
        try pair.controller.writeOutbound(WireCommand.serve(stream, source: source, firstBlock: 0, end: .transferEnd(TransferEnd(digest: nil, blocksSent: 2))))
        try pair.exchange()
        let dataAfterReset = pair.framesFromController.filter { frame in
            if case .data = frame.payload { return frame.streamID == stream }
            return false
        }
        #expect(dataAfterReset.isEmpty, "\(dataAfterReset.count) DATA frames after RESET")
        #expect(pair.controller.isActive)
    }

    @Test("after the agent's GOAWAY(NO_ERROR) the controller finishes the open stream, then closes")
    func closesAfterPeerGoAway() throws {
        let pair = try EmbeddedPair()
        try pair.exchange()
        try pair.agent.writeOutbound(WireCommand.openStream(.transferRequest(TransferRequest(digest: nil, firstBlock: 0))))
        try pair.exchange()
        try pair.agent.writeOutbound(WireCommand.goAway(.noError, reason: "agent stopping"))
        try pair.exchange()
        #expect(pair.controller.isActive, "closed with a stream still open")
        let source = try MemorySource(object: BlockCodecTests.random(2048), blockSize: 1024, compress: false)
        try pair.controller.writeOutbound(WireCommand.serve(1, source: source, firstBlock: 0, end: .transferEnd(TransferEnd(digest: nil, blocksSent: 2))))
        for _ in 0..<20 {
            try pair.exchange()
            // The agent's application consumes what it is given, as a real one does.
            for event in try EmbeddedPair.events(pair.agent) {
                if case .data(let id, let bytes, _) = event {
                    try pair.agent.writeOutbound(WireCommand.consumed(id, count: bytes.readableBytes))
                }
            }
            if !pair.controller.isActive { break }
        }
        let ended = pair.framesFromController.contains { if case .message(.transferEnd) = $0.payload { return true } else { return false } }
        #expect(ended, "the open stream did not finish")
        #expect(!pair.controller.isActive, "the controller kept an idle connection open after GOAWAY(NO_ERROR)")
    }
}

/// Rules PROTOCOL.md makes explicit (issue 7, item 12).
@Suite struct SpecRuleTests {
    @Test("TRANSFER_REQUEST without END_STREAM is a stream error PROTOCOL_ERROR; the connection goes on")
    func requestWithoutEndStream() throws {
        var pair = SessionPair()
        _ = try pair.establish()
        let frame = Frame(streamID: 1, payload: .message(.transferRequest(TransferRequest(digest: nil, firstBlock: 0))))
        #expect(pair.controller.received(frame, now: pair.now).streamErrorCode == .protocolError)
        #expect(pair.controller.isEstablished)
        #expect(!pair.controller.isOpenForSending(1))
    }

    @Test("blocks out of order, repeated or skipped are a stream error once the first block is known")
    func blockOrder() throws {
        func stream(_ indices: [UInt32]) throws -> ByteBuffer {
            var all = ByteBuffer()
            for index in indices {
                let block = try BlockCodec().encode(ByteBuffer(bytes: [1, 2, 3, 4]), index: index, compress: false)
                block.writeHeader(to: &all)
                var bytes = block.bytes
                all.writeBuffer(&bytes)
            }
            return all
        }
        for (indices, ok) in [([2, 3, 4], true), ([2, 2], false), ([2, 4], false), ([3], false), ([2, 1], false)] as [([UInt32], Bool)] {
            var parser = BlockParser(blockSize: 4, firstIndex: 2)
            parser.append(try stream(indices))
            let outcome = Result { while try parser.next() != nil {} }
            let passed = (try? outcome.get()) != nil
            #expect(passed == ok, "\(indices)")
        }
    }
}
