import Foundation
import NIOCore
import TernTestSupport
import Testing
import Wire
@testable import Agent
@testable import Platform

@Suite struct TransferStoreTests {
    static func object(_ size: Int, seed: UInt64 = 1) -> [UInt8] {
        var generator = SplitMix(seed: seed)
        return (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }

    static func piece(_ bytes: [UInt8], index: Int, blockSize: Int, offset: Int = 0, length: Int? = nil) -> BlockPiece {
        let start = index * blockSize
        let rawLength = min(blockSize, bytes.count - start)
        let count = length ?? rawLength - offset
        return BlockPiece(index: UInt32(index), rawLength: rawLength, offset: offset, bytes: ByteBuffer(bytes: bytes[(start + offset)..<(start + offset + count)]))
    }

    @Test("pieces land at their offsets; a reopened partial resumes at the first missing block; a verified object is published")
    func resumeAndPublish() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let bytes = Self.object(10_000)
        let offer = TransferOffer(digest: ContentDigest(of: bytes), size: 10_000, blockSize: 4096, kind: "firmware", name: "bios.cap")
        let store = try TransferStore(stateDirectory: directory.path)
        do {
            let object = try store.begin(offer)
            #expect(object.blockCount == 3 && object.firstMissingBlock == 0)
            try object.write(Self.piece(bytes, index: 0, blockSize: 4096, offset: 0, length: 1000))
            #expect(object.firstMissingBlock == 0, "a block is held only when whole")
            try object.write(Self.piece(bytes, index: 0, blockSize: 4096, offset: 1000))
            #expect(object.firstMissingBlock == 1)
        }
        // A restarted agent: the record on disk says block 0 is held.
        let resumed = try store.begin(offer)
        #expect(resumed.firstMissingBlock == 1)
        #expect(!store.has(offer.digest!))
        try resumed.write(Self.piece(bytes, index: 1, blockSize: 4096))
        try resumed.write(Self.piece(bytes, index: 2, blockSize: 4096))
        let path = try resumed.finish()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(bytes))
        #expect(store.has(offer.digest!))
        #expect(!FileManager.default.fileExists(atPath: directory.appending("transfers/partial/\(offer.digest!.hex)")))
    }

    @Test("an object that does not hash to its digest is never published, and starts over")
    func digestMismatch() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let bytes = Self.object(5000)
        var wrong = bytes
        wrong[4999] ^= 0xFF
        let offer = TransferOffer(digest: ContentDigest(of: bytes), size: 5000, blockSize: 4096, kind: "config", name: "c")
        let store = try TransferStore(stateDirectory: directory.path)
        let object = try store.begin(offer)
        try object.write(Self.piece(wrong, index: 0, blockSize: 4096))
        try object.write(Self.piece(wrong, index: 1, blockSize: 4096))
        #expect { _ = try object.finish() } throws: { ($0 as? WireError)?.code == .digestMismatch }
        #expect(!store.has(offer.digest!))
        #expect(try store.begin(offer).firstMissingBlock == 0)
    }

    @Test("a piece for a block the object does not have, or of the wrong size, is refused")
    func bounds() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try TransferStore(stateDirectory: directory.path)
        let object = try store.begin(TransferOffer(digest: ContentDigest(of: [1]), size: 5000, blockSize: 4096, kind: "", name: ""))
        #expect(throws: WireError.self) { try object.write(BlockPiece(index: 2, rawLength: 100, offset: 0, bytes: ByteBuffer(bytes: [1]))) }
        #expect(throws: WireError.self) { try object.write(BlockPiece(index: 1, rawLength: 4096, offset: 0, bytes: ByteBuffer(bytes: [1]))) }
    }
}
