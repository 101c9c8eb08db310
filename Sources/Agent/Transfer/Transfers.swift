import Foundation
import Logging
import NIOCore
import Wire

/// The agent's side of transfers (PROTOCOL.md §7.4): answers offers with a request
/// that resumes at the first missing block, writes what arrives, and publishes an
/// object only once its digest checks out. Lives across connections, so a cut link
/// resumes where it stopped; partial files survive an agent restart too.
actor Transfers {
    private let store: TransferStore
    private let logger: Logger
    /// Streams this side opened, by id.
    private var streams: [StreamID: Receiving] = [:]
    /// Objects published since start, by digest (for status and tests).
    private(set) var completed: [Wire.Digest: String] = [:]

    private struct Receiving {
        var object: IncomingObject
        var parser: BlockParser
    }

    init(stateDirectory: String, logger: Logger) throws {
        self.store = try TransferStore(stateDirectory: stateDirectory)
        self.logger = logger
    }

    /// The request to send for an offer, or nil when the object is already here.
    func offered(_ offer: TransferOffer) throws -> TransferRequest? {
        guard let digest = offer.digest else { return nil }
        if self.store.has(digest) {
            self.completed[digest] = self.store.objectPath(digest)
            return nil
        }
        let object = try self.store.begin(offer)
        if object.isComplete { return TransferRequest(digest: digest, firstBlock: object.firstMissingBlock) }
        self.logger.info("transfer starting", metadata: [
            "object": "\(digest)", "kind": "\(offer.kind)", "name": "\(offer.name)",
            "blocks": "\(object.blockCount)", "resume_at": "\(object.firstMissingBlock)",
        ])
        return TransferRequest(digest: digest, firstBlock: object.firstMissingBlock)
    }

    /// Our request went out on `stream`.
    func opened(_ stream: StreamID, _ request: TransferRequest, offer: TransferOffer) throws {
        let object = try self.store.begin(offer)
        self.streams[stream] = Receiving(object: object, parser: BlockParser(blockSize: object.blockSize))
    }

    /// Writes stream bytes; returns how many were consumed (for flow-control credit).
    func received(_ bytes: ByteBuffer, on stream: StreamID) throws -> Int {
        guard var receiving = self.streams[stream] else { return bytes.readableBytes }
        receiving.parser.append(bytes)
        while let piece = try receiving.parser.next() {
            try receiving.object.write(piece)
        }
        self.streams[stream] = receiving
        return bytes.readableBytes
    }

    /// The sender says it is done: verify and publish.
    func ended(_ stream: StreamID) throws -> String? {
        guard let receiving = self.streams.removeValue(forKey: stream) else { return nil }
        guard receiving.object.isComplete else {
            self.logger.warning("transfer ended with blocks missing", metadata: ["object": "\(receiving.object.digest)", "first_missing": "\(receiving.object.firstMissingBlock)"])
            return nil
        }
        let path = try receiving.object.finish()
        self.completed[receiving.object.digest] = path
        self.logger.info("transfer complete", metadata: ["object": "\(receiving.object.digest)", "path": "\(path)"])
        return path
    }

    /// The stream ended early (abort, reset, lost connection): keep the partial data for resuming.
    func abandoned(_ stream: StreamID) {
        self.streams[stream] = nil
    }

    func abandonAll() {
        self.streams.removeAll()
    }
}
