import Foundation
import Logging
import NIOCore
import NIOEmbedded
import TernTestSupport
import Testing
import Wire
@testable import Agent
@testable import Platform

@Suite struct TransfersTests {
    /// A connection's transfer sink on an embedded channel, fed as `WireConnectionHandler` would feed it.
    struct Connection {
        let channel: EmbeddedChannel
        let counters = TransferCounters()

        init(_ transfers: Transfers) throws {
            self.channel = EmbeddedChannel()
            try self.channel.pipeline.syncOperations.addHandler(TransferSink(writers: transfers.writers, counters: self.counters, logger: Logger(label: "test")))
        }

        func deliver(_ event: WireEvent) throws {
            try self.channel.writeInbound(event)
        }

        /// Delivers the stream's opening and takes it back out (it passes through to the application).
        func open(_ stream: StreamID, _ request: TransferRequest) throws {
            try self.deliver(.streamOpened(stream, .transferRequest(request)))
            guard case .wire(.streamOpened(stream, _))? = try self.channel.readInbound(as: TransferEvent.self) else {
                Issue.record("the opening did not pass through")
                return
            }
        }

        /// Runs the loop until a command is written (file work happens on the thread pool meanwhile).
        func nextCommand() async throws -> WireCommand? {
            for _ in 0..<500 {
                self.channel.embeddedEventLoop.run()
                if let command = try self.channel.readOutbound(as: WireCommand.self) { return command }
                try await Task.sleep(for: .milliseconds(10))
            }
            return nil
        }

        func nextEvent() async throws -> TransferEvent? {
            for _ in 0..<500 {
                self.channel.embeddedEventLoop.run()
                if let event = try self.channel.readInbound(as: TransferEvent.self) { return event }
                try await Task.sleep(for: .milliseconds(10))
            }
            return nil
        }
    }

    static func blockStream(_ bytes: ArraySlice<UInt8>, index: UInt32) -> ByteBuffer {
        var stream = ByteBuffer()
        EncodedBlock(index: index, encoding: .raw, rawLength: bytes.count, bytes: ByteBuffer(bytes: bytes)).writeHeader(to: &stream)
        stream.writeBytes(bytes)
        return stream
    }

    @Test("a stalled stream is cancelled and the object asked for again from its first missing block")
    func stallAndRetry() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // A minute: the test passes its own clock, so a slow machine cannot make a live stream look stalled.
        let transfers = try Transfers(stateDirectory: directory.path, stallTimeout: .seconds(60), logger: Logger(label: "test"))
        let connection = try Connection(transfers)
        let bytes = [UInt8](repeating: 7, count: 10_000)
        let offer = TransferOffer(digest: ContentDigest(of: bytes), size: 10_000, blockSize: 4096, kind: "config", name: "c")
        let request = try #require(try await transfers.offered(offer))
        #expect(request.firstBlock == 0)
        // Offered again before the request's stream is even known (the controller
        // repeats its offers at connect): still one request.
        #expect(try await transfers.offered(offer) == nil)
        // Offered again while the stream is open: no second stream.
        try connection.open(1, request)
        await transfers.opened(1, request)
        #expect(try await transfers.offered(offer) == nil)
        // One whole raw block arrives (credit for it comes back once it is written), then nothing.
        try connection.deliver(.data(1, Self.blockStream(bytes[0..<4096], index: 0), endStream: false))
        guard case .consumed(1, 4096 + 13)? = try await connection.nextCommand() else {
            Issue.record("no credit for the written block")
            return
        }
        let now = ContinuousClock.now
        #expect(try await transfers.housekeeping(now: now).stalled.isEmpty)
        let (stalled, retry) = try await transfers.housekeeping(now: now + .seconds(61))
        #expect(stalled == [1])
        #expect(retry == [TransferRequest(digest: offer.digest, firstBlock: 1)])
        // A failed stream (reset, lost link) is asked for again the same way.
        await transfers.opened(3, retry[0])
        await transfers.abandoned(3)
        let reopened = ContinuousClock.now
        #expect(try await transfers.housekeeping(now: reopened + .seconds(30)).retry.isEmpty, "asked again before the stall timeout")
        #expect(try await transfers.housekeeping(now: reopened + .seconds(61)).retry.map(\.firstBlock) == [1])
        // After a lost connection a new offer asks again at once.
        await transfers.abandonAll()
        #expect(try await transfers.offered(offer)?.firstBlock == 1)
    }

    @Test("the sink writes what arrives off the loop, publishes the object after its last write, and wakes whoever waits")
    func sinkCompletesObject() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let transfers = try Transfers(stateDirectory: directory.path, logger: Logger(label: "test"))
        let connection = try Connection(transfers)
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let digest = ContentDigest(of: bytes)
        let request = try #require(try await transfers.offered(TransferOffer(digest: digest, size: 10_000, blockSize: 4096, kind: "config", name: "c")))
        try connection.open(5, request)
        await transfers.opened(5, request)
        var stream = Self.blockStream(bytes[0..<4096], index: 0)
        var rest = Self.blockStream(bytes[4096..<8192], index: 1)
        stream.writeBuffer(&rest)
        var last = Self.blockStream(bytes[8192...], index: 2)
        // Three reads, the last cutting a block header in two: the parser keeps the cut.
        try connection.deliver(.data(5, stream.getSlice(at: 0, length: 5000)!, endStream: false))
        try connection.deliver(.data(5, stream.getSlice(at: 5000, length: stream.readableBytes - 5000)!, endStream: false))
        try connection.deliver(.data(5, last.readSlice(length: 7)!, endStream: false))
        try connection.deliver(.data(5, last, endStream: false))
        try connection.deliver(.message(5, .transferEnd(TransferEnd(digest: digest, blocksSent: 3)), endStream: true))
        guard case .transferEnded(5, digest, let result)? = try await connection.nextEvent() else {
            Issue.record("no end")
            return
        }
        let path = try #require(try await transfers.ended(5, digest, result))
        #expect(FileManager.default.contents(atPath: path) == Data(bytes))
        #expect(try await transfers.arrival(of: digest) == path)
        #expect(connection.counters.bytes == 10_000 + 3 * 13)
    }

    @Test("bytes that break the block format reset only their stream, and the connection's credit for them comes back")
    func malformedStream() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let transfers = try Transfers(stateDirectory: directory.path, logger: Logger(label: "test"))
        let connection = try Connection(transfers)
        let bytes = [UInt8](repeating: 1, count: 4096)
        let digest = ContentDigest(of: bytes)
        let request = try #require(try await transfers.offered(TransferOffer(digest: digest, size: 4096, blockSize: 4096, kind: "config", name: "c")))
        try connection.open(7, request)
        // Block 3 of a one-block object, where block 0 is due.
        try connection.deliver(.data(7, Self.blockStream(bytes[...], index: 3), endStream: false))
        guard case .consumed(7, 4096 + 13)? = try await connection.nextCommand(), case .reset(7, let code)? = try await connection.nextCommand() else {
            Issue.record("no credit and reset")
            return
        }
        // A connection-level code is not used on a stream: the reset says INTERNAL_ERROR.
        #expect(code == .internalError)
        guard case .transferFailed(7, digest, let error)? = try await connection.nextEvent() else {
            Issue.record("no failure event")
            return
        }
        #expect(await transfers.failed(7, digest, error) == nil, "a sender's error is not a storage failure")
        // Other events pass through untouched.
        try connection.deliver(.message(0, .command(Command(commandID: 1, action: "noop")), endStream: false))
        guard case .wire(.message(0, .command, _))? = try await connection.nextEvent() else {
            Issue.record("event not passed on")
            return
        }
    }
}
