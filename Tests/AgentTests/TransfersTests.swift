import Foundation
import Logging
import NIOCore
import TernTestSupport
import Testing
import Wire
@testable import Agent

@Suite struct TransfersTests {
    @Test("a stalled stream is cancelled and the object asked for again from its first missing block")
    func stallAndRetry() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let transfers = try Transfers(stateDirectory: directory.path, stallTimeout: .milliseconds(50), logger: Logger(label: "test"))
        let bytes = [UInt8](repeating: 7, count: 10_000)
        let offer = TransferOffer(digest: ContentDigest(of: bytes), size: 10_000, blockSize: 4096, kind: "config", name: "c")
        let request = try #require(try await transfers.offered(offer))
        #expect(request.firstBlock == 0)
        // Offered again before the request's stream is even known (the controller
        // repeats its offers at connect): still one request.
        #expect(try await transfers.offered(offer) == nil)
        // Offered again while the stream is open: no second stream.
        try await transfers.opened(1, request)
        #expect(try await transfers.offered(offer) == nil)
        // One whole raw block arrives, then nothing.
        var stream = ByteBuffer()
        EncodedBlock(index: 0, encoding: .raw, rawLength: 4096, bytes: ByteBuffer(bytes: bytes[0..<4096])).writeHeader(to: &stream)
        stream.writeBytes(bytes[0..<4096])
        _ = try await transfers.received(stream, on: 1)
        #expect(try await transfers.housekeeping().stalled.isEmpty)
        try await Task.sleep(for: .milliseconds(80))
        let (stalled, retry) = try await transfers.housekeeping()
        #expect(stalled == [1])
        #expect(retry == [TransferRequest(digest: offer.digest, firstBlock: 1)])
        // A failed stream (reset, lost link) is asked for again the same way.
        try await transfers.opened(3, retry[0])
        await transfers.abandoned(3)
        try await Task.sleep(for: .milliseconds(80))
        #expect(try await transfers.housekeeping().retry.map(\.firstBlock) == [1])
        // After a lost connection a new offer asks again at once.
        await transfers.abandonAll()
        #expect(try await transfers.offered(offer)?.firstBlock == 1)
    }
}
