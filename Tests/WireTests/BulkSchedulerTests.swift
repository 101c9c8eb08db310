import NIOCore
import Testing
@testable import Wire

/// The bulk scheduler without a channel: events in, actions out, credit from a real
/// peer state machine (windows 1000 per stream, 1500 per connection).
@Suite struct BulkSchedulerTests {
    /// A controller state machine with `count` streams the agent opened, and the agent
    /// beside it to return credit.
    struct Bench {
        var pair = SessionPair()
        var scheduler = BulkScheduler()
        var streams: [StreamID] = []

        init(streams count: Int) throws {
            _ = try self.pair.establish()
            for _ in 0..<count {
                let id = try #require(self.pair.agent.nextStreamID())
                let request = try self.pair.agent.send(.transferRequest(TransferRequest(digest: nil, firstBlock: 0)), on: id, endStream: true)
                _ = self.pair.controller.received(request, now: self.pair.now)
                self.streams.append(id)
            }
        }

        mutating func next() -> [BulkScheduler.Action] { self.scheduler.next(&self.pair.controller) }

        /// Hands a written DATA frame to the agent and returns all of its bytes as credit.
        mutating func deliverAndCredit(_ frame: BulkScheduler.BulkFrame) {
            guard case .data(let stream, let pieces, _, let endStream) = frame else { return }
            var payload = ByteBuffer()
            for var piece in pieces { payload.writeBuffer(&piece) }
            let length = payload.readableBytes
            _ = self.pair.agent.received(Frame(streamID: stream, payload: .data(payload), flags: endStream ? .endStream : []), now: self.pair.now)
            for update in self.pair.agent.consumed(length, on: stream) {
                _ = self.pair.controller.received(update, now: self.pair.now)
            }
        }
    }

    static func source(blocks: Int, blockSize: Int = 800) throws -> MemorySource {
        try MemorySource(object: BlockCodecTests.random(blocks * blockSize), blockSize: blockSize, compress: false)
    }

    @Test("a source is asked for one block ahead; one frame is in flight at a time; flow control holds the rest")
    func oneFrameInFlight() throws {
        var bench = try Bench(streams: 1)
        let stream = bench.streams[0]
        let source = try Self.source(blocks: 3)
        bench.scheduler.serve(source, on: stream, firstBlock: 0, end: .transferEnd(TransferEnd(digest: nil, blocksSent: 3)), resume: nil)

        // Nothing to frame yet: only block 0 is asked for.
        let first = bench.next()
        #expect(first.fetches == [0] && first.writes.isEmpty)
        #expect(bench.next().isEmpty, "asked twice for the same block")

        bench.scheduler.blockArrived(try source.block(at: 0), on: stream)
        let second = bench.next()
        // Block 1 is asked for while block 0 is framed: one ahead.
        #expect(second.fetches == [1])
        let written = try #require(second.writes.first)
        guard case .data(stream, _, let length, false) = written else { Issue.record("not DATA: \(written)"); return }
        #expect(length <= 1000)
        // In flight: nothing more until the transport takes it.
        #expect(bench.next().isEmpty)
        bench.scheduler.frameWritten()
        // Blocks 0 and 1 (1,626 bytes framed) are more than the stream's window: what
        // goes stops at 1,000 bytes, whatever is queued.
        bench.scheduler.blockArrived(try source.block(at: 1), on: stream)
        var sent = [written]
        while let frame = bench.next().writes.first {
            sent.append(frame)
            bench.scheduler.frameWritten()
        }
        #expect(sent.map(\.length).reduce(0, +) == 1000)
        // Credit from the peer opens it again.
        for frame in sent { bench.deliverAndCredit(frame) }
        #expect(bench.next().writes.count == 1)
    }

    @Test("streams take turns: a long transfer cannot starve a short one")
    func roundRobin() throws {
        var bench = try Bench(streams: 2)
        let (a, b) = (bench.streams[0], bench.streams[1])
        bench.scheduler.enqueue(ByteBuffer(repeating: 1, count: 600), on: a, endStream: false)
        bench.scheduler.enqueue(ByteBuffer(repeating: 2, count: 600), on: b, endStream: false)
        var order: [StreamID] = []
        for _ in 0..<4 {
            for action in bench.next() {
                guard case .write(let frame) = action else { continue }
                if case .data(let id, _, _, _) = frame { order.append(id) }
                bench.scheduler.frameWritten()
                bench.deliverAndCredit(frame)
            }
            bench.scheduler.enqueue(ByteBuffer(repeating: 1, count: 600), on: a, endStream: false)
        }
        // b had one frame's worth; it went second, not after all of a's.
        #expect(order.prefix(2) == [a, b], "\(order)")
        #expect(order.count == 4)
    }

    @Test("the final message goes after the data queued before it, then the stream drains")
    func finalMessageAfterData() throws {
        var bench = try Bench(streams: 1)
        let stream = bench.streams[0]
        bench.scheduler.enqueue(ByteBuffer(repeating: 7, count: 500), on: stream, endStream: false)
        bench.scheduler.enqueueFinal(.transferEnd(TransferEnd(digest: nil, blocksSent: 0)), on: stream)
        var written: [BulkScheduler.BulkFrame] = []
        var drained = false
        for _ in 0..<3 {
            for action in bench.next() {
                switch action {
                case .write(let frame):
                    written.append(frame)
                    bench.scheduler.frameWritten()
                case .drained(let id):
                    drained = id == stream
                default:
                    break
                }
            }
        }
        try #require(written.count == 2)
        guard case .data(stream, _, 500, false) = written[0], case .frame(let end) = written[1] else {
            Issue.record("\(written)")
            return
        }
        #expect(end.flags.contains(.endStream))
        guard case .message(.transferEnd) = end.payload else { Issue.record("\(end)"); return }
        #expect(drained && bench.scheduler.isIdle)
    }

    @Test("a block that cannot be made fails its stream with a RESET and leaves the others alone")
    func failedBlock() throws {
        var bench = try Bench(streams: 2)
        let (a, b) = (bench.streams[0], bench.streams[1])
        let source = try Self.source(blocks: 2)
        let end = Message.transferEnd(TransferEnd(digest: nil, blocksSent: 2))
        bench.scheduler.serve(source, on: a, firstBlock: 0, end: end, resume: nil)
        bench.scheduler.serve(source, on: b, firstBlock: 0, end: end, resume: nil)
        #expect(bench.next().fetches.count == 2)

        let failure = bench.scheduler.blockFailed(WireError(.notFound, "gone"), on: a, machine: &bench.pair.controller)
        guard case .failed(a, .notFound, _, let reset?)? = failure, case .reset(.notFound) = reset.payload else {
            Issue.record("\(String(describing: failure))")
            return
        }
        #expect(!bench.scheduler.isQueued(a) && bench.scheduler.isQueued(b))
        // A second failure, or a late block, for the gone stream is nothing.
        #expect(bench.scheduler.blockFailed(WireError(.notFound, "gone"), on: a, machine: &bench.pair.controller) == nil)
        bench.scheduler.blockArrived(try source.block(at: 0), on: a)
        bench.scheduler.blockArrived(try source.block(at: 0), on: b)
        let writes = bench.next().writes
        guard case .data(b, _, _, _)? = writes.first else { Issue.record("\(writes)"); return }
    }

    @Test("a removed stream's queued output and late blocks are dropped")
    func removedStream() throws {
        var bench = try Bench(streams: 1)
        let stream = bench.streams[0]
        let source = try Self.source(blocks: 2)
        bench.scheduler.serve(source, on: stream, firstBlock: 0, end: .transferEnd(TransferEnd(digest: nil, blocksSent: 2)), resume: nil)
        _ = bench.next()
        bench.scheduler.remove(stream)
        bench.scheduler.blockArrived(try source.block(at: 0), on: stream)
        #expect(bench.next().isEmpty)
        #expect(bench.scheduler.isIdle)
    }
}

extension BulkScheduler.BulkFrame {
    var length: Int {
        if case .data(_, _, let length, _) = self { return length } else { return 0 }
    }
}

extension [BulkScheduler.Action] {
    var fetches: [UInt64] {
        self.compactMap { if case .fetch(_, _, let index) = $0 { return index } else { return nil } }
    }

    var writes: [BulkScheduler.BulkFrame] {
        self.compactMap { if case .write(let frame) = $0 { return frame } else { return nil } }
    }
}
