import NIOCore
import NIOEmbedded
import Testing
@testable import Wire

/// The NIO handler: bytes in and out, with the state machine's decisions carried out.
@Suite struct WireConnectionHandlerTests {
    @Test("two handlers complete the handshake and deliver a heartbeat")
    func handshakeAndHeartbeat() throws {
        let pair = try EmbeddedPair()
        try pair.exchange()
        guard case .established(let negotiated)? = try EmbeddedPair.events(pair.controller).first else {
            Issue.record("controller not established")
            return
        }
        #expect(negotiated.peerIdentity == "edge-01")
        try pair.agent.writeOutbound(WireCommand.message(.heartbeat(Heartbeat(sequence: 1, sentAtMillis: 2))))
        try pair.exchange()
        let events = try EmbeddedPair.events(pair.controller)
        guard case .message(0, .heartbeat(let heartbeat), false)? = events.first else {
            Issue.record("no heartbeat: \(events)")
            return
        }
        #expect(heartbeat.sequence == 1)
    }

    @Test("garbage closes that connection with a GOAWAY that names the error")
    func garbageClosesConnection() throws {
        let pair = try EmbeddedPair()
        try pair.exchange()
        // An unknown frame type from the agent's side.
        try pair.controller.writeInbound(ByteBuffer(bytes: [0x00, 0x00, 0x00, 0x0F, 0x00, 0, 0, 0, 0]))
        var parser = FrameParser(maxFrameSize: WireLimits.hardMaxFrameSize)
        var goAway: GoAway?
        while var bytes = try pair.controller.readOutbound(as: ByteBuffer.self) {
            parser.append(bytes: &bytes)
            while let frame = try parser.nextFrame() {
                if case .goAway(let value) = frame.payload { goAway = value }
            }
        }
        #expect(goAway?.code == .unknownFrameType)
        #expect(!pair.controller.isActive)
    }

    @Test("a transfer streams through flow control and arrives intact, compressed where it helps")
    func transferThroughFlowControl() throws {
        let pair = try EmbeddedPair()
        try pair.exchange()
        _ = try EmbeddedPair.events(pair.agent)
        _ = try EmbeddedPair.events(pair.controller)

        // 20 KiB compressible + 20 KiB random, in 4 KiB blocks; windows are 1000/1500 bytes,
        // so this only completes if credit flows back correctly.
        var object = BlockCodecTests.compressible(20_480)
        var random = BlockCodecTests.random(20_480)
        object.writeBuffer(&random)
        let digest = ContentDigest(of: object)
        let source = try MemorySource(object: object, blockSize: 4096, compress: true)
        #expect(source.blocks.contains { $0.encoding == .zlib } && source.blocks.contains { $0.encoding == .raw })

        try pair.agent.writeOutbound(WireCommand.openStream(.transferRequest(TransferRequest(digest: digest, firstBlock: 0))))
        try pair.exchange()
        guard case .message(let stream, .transferRequest, true)? = try EmbeddedPair.events(pair.controller).first else {
            Issue.record("no request")
            return
        }
        try pair.controller.writeOutbound(WireCommand.serve(stream, source: source, firstBlock: 0, end: .transferEnd(TransferEnd(digest: digest, blocksSent: source.blockCount))))

        var parser = BlockParser(blockSize: 4096)
        var received = ByteBuffer()
        var ended = false
        for _ in 0..<10_000 where !ended {
            try pair.exchange(maxRounds: 1)
            for event in try EmbeddedPair.events(pair.agent) {
                switch event {
                case .data(let id, let bytes, _):
                    parser.append(bytes)
                    while let piece = try parser.next() { received.writeImmutableBuffer(piece.bytes) }
                    try pair.agent.writeOutbound(WireCommand.consumed(id, count: bytes.readableBytes))
                case .message(_, .transferEnd(let end), true):
                    #expect(end.blocksSent == 10)
                    ended = true
                default:
                    break
                }
            }
        }
        #expect(ended)
        #expect(ContentDigest(of: received) == digest)
        // The peer's frame limit and windows were respected.
        for frame in pair.framesFromController {
            #expect(frame.flowControlledLength <= 1000)
        }
    }

    @Test("a control frame waits behind at most one bulk frame")
    func controlFramesOvertakeBulk() throws {
        var agentConfiguration = SessionPair.configuration("edge-01")
        agentConfiguration.streamWindow = 1 << 20
        agentConfiguration.connectionWindow = 1 << 20
        let pair = try EmbeddedPair(agent: agentConfiguration)
        try pair.exchange()
        try pair.agent.writeOutbound(WireCommand.openStream(.transferRequest(TransferRequest(digest: nil, firstBlock: 0))))
        try pair.exchange()
        let source = try MemorySource(object: BlockCodecTests.random(256 * 1024), blockSize: 64 * 1024, compress: false)
        // 256 KiB queued for the transfer, then, before the event loop turns, three messages on stream 0:
        // they must not queue behind the transfer's frames.
        try pair.controller.writeOutbound(WireCommand.serve(1, source: source, firstBlock: 0, end: .transferEnd(TransferEnd(digest: nil, blocksSent: 4))))
        for sequence in 1...3 {
            try pair.controller.writeOutbound(WireCommand.message(.command(Command(commandID: UInt64(sequence), action: "noop"))))
        }
        try pair.exchange()
        let kinds = pair.framesFromController.map(\.kind)
        let firstData = try #require(kinds.firstIndex(of: .data))
        let lastCommand = try #require(pair.framesFromController.lastIndex { if case .message(.command) = $0.payload { return true } else { return false } })
        // Blocks come from the source a loop turn later (off the event loop for real
        // sources), so the commands may even go out before the first DATA frame.
        let bulkAhead = firstData < lastCommand ? kinds[firstData..<lastCommand].filter { $0 == .data }.count : 0
        #expect(bulkAhead <= 1, "control frames waited behind \(bulkAhead) bulk frames: \(kinds)")
        #expect(kinds.filter { $0 == .data }.count > 10)
    }
}

/// A source whose blocks are made elsewhere and arrive when the test says so.
final class DeferredSource: TransferSource, @unchecked Sendable {
    let memory: MemorySource
    /// Requests in the order the handler made them (only touched on the embedded loop).
    var requested: [(index: UInt64, promise: EventLoopPromise<EncodedBlock>)] = []

    init(_ memory: MemorySource) { self.memory = memory }

    var blockCount: UInt64 { self.memory.blockCount }
    func block(at index: UInt64) throws -> EncodedBlock { try self.memory.block(at: index) }
    func block(at index: UInt64, on eventLoop: any EventLoop) -> EventLoopFuture<EncodedBlock> {
        let promise = eventLoop.makePromise(of: EncodedBlock.self)
        self.requested.append((index, promise))
        return promise.futureResult
    }
}

extension WireConnectionHandlerTests {
    @Test("blocks made off the event loop: the stream waits for each, one block ahead at most, control frames go on; a failed block resets only its stream")
    func asynchronousSource() throws {
        let pair = try EmbeddedPair()
        try pair.exchange()
        _ = try EmbeddedPair.events(pair.agent)
        _ = try EmbeddedPair.events(pair.controller)
        let object = BlockCodecTests.random(4 * 4096)
        let source = DeferredSource(try MemorySource(object: object, blockSize: 4096, compress: false))
        let failing = DeferredSource(try MemorySource(object: object, blockSize: 4096, compress: false))
        for _ in 0..<2 { try pair.agent.writeOutbound(WireCommand.openStream(.transferRequest(TransferRequest(digest: nil, firstBlock: 0)))) }
        try pair.exchange()
        let streams = try EmbeddedPair.events(pair.controller).compactMap { event -> StreamID? in
            if case .message(let id, .transferRequest, _) = event { return id } else { return nil }
        }
        try #require(streams.count == 2)
        let end = Message.transferEnd(TransferEnd(digest: nil, blocksSent: 4))
        try pair.controller.writeOutbound(WireCommand.serve(streams[0], source: source, firstBlock: 0, end: end))
        try pair.controller.writeOutbound(WireCommand.serve(streams[1], source: failing, firstBlock: 0, end: end))
        try pair.exchange()
        // Asked for the first block of each and nothing more; nothing sent yet; a heartbeat still goes.
        #expect(source.requested.map(\.index) == [0] && failing.requested.map(\.index) == [0])
        #expect(!pair.framesFromController.contains { $0.kind == .data })
        try pair.controller.writeOutbound(WireCommand.message(.command(Command(commandID: 1, action: "noop"))))
        try pair.exchange()
        #expect(pair.framesFromController.contains { if case .message(.command) = $0.payload { return true } else { return false } })

        // The failing source's block fails: that stream is reset, the other is untouched.
        failing.requested[0].promise.fail(WireError(.notFound, "object is gone"))
        try pair.exchange()
        let afterFailure = try EmbeddedPair.events(pair.agent)
        #expect(afterFailure.contains { if case .streamReset(streams[1], .notFound) = $0 { return true } else { return false } }, "\(afterFailure) \(pair.framesFromController.map(\.kind))")

        var parser = BlockParser(blockSize: 4096)
        var received = ByteBuffer()
        var ended = false
        var served = 0
        for _ in 0..<1_000 where !ended {
            // Complete whatever the handler asked for; it never asks more than one block ahead.
            while served < source.requested.count {
                let (index, promise) = source.requested[served]
                promise.succeed(try source.memory.block(at: index))
                served += 1
            }
            #expect(source.requested.count <= Int(source.blockCount))
            try pair.exchange(maxRounds: 1)
            for event in try EmbeddedPair.events(pair.agent) {
                switch event {
                case .data(let id, let bytes, _):
                    parser.append(bytes)
                    while let piece = try parser.next() { received.writeImmutableBuffer(piece.bytes) }
                    try pair.agent.writeOutbound(WireCommand.consumed(id, count: bytes.readableBytes))
                case .message(streams[0], .transferEnd, true):
                    ended = true
                default:
                    break
                }
            }
        }
        #expect(ended)
        #expect(received == object)
        #expect(source.requested.map(\.index) == [0, 1, 2, 3])
    }
}
