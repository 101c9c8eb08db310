import Foundation
import Logging
import NIOCore
import Wire

#if canImport(Glibc)
import Glibc
import Platform
#endif

/// The agent's side of transfers (PROTOCOL.md §7.4): answers offers with a request
/// that resumes at the first missing block, writes what arrives, and publishes an
/// object only once its digest checks out. Lives across connections, so a cut link
/// resumes where it stopped; partial files survive an agent restart too.
actor Transfers {
    private let store: TransferStore
    private let logger: Logger
    /// Streams this side opened, by id.
    private var streams: [StreamID: Receiving] = [:]
    /// Offers not yet satisfied: asked for again when their stream fails or stalls.
    private var pending: [ContentDigest: Pending] = [:]
    /// A stream with no data for this long is cancelled and asked for again.
    let stallTimeout: Duration

    private struct Pending {
        var offer: TransferOffer
        /// When a stream last carried this object, or was opened for it.
        var lastActivity: ContinuousClock.Instant
        var stream: StreamID?
        /// A request went out and its stream is not known yet (or is open): a second
        /// offer of the same object, say one repeated at connect, must not ask twice.
        var requested = false
    }
    /// Objects published since start, by digest (for status and tests).
    private(set) var completed: [ContentDigest: String] = [:]

    private struct Receiving {
        var object: IncomingObject
        var parser: BlockParser
    }

    init(stateDirectory: String, stallTimeout: Duration = .seconds(30), logger: Logger) throws {
        self.store = try TransferStore(stateDirectory: stateDirectory)
        self.stallTimeout = stallTimeout
        self.logger = logger
    }

    /// The request to send for an offer, or nil when the object is already here.
    func offered(_ offer: TransferOffer) throws -> TransferRequest? {
        guard let digest = offer.digest else { return nil }
        self.missing[digest] = nil
        if self.store.has(digest) {
            self.completed[digest] = self.store.objectPath(digest)
            self.waiting.resume(digest, path: self.store.objectPath(digest))
            return nil
        }
        if let existing = self.pending[digest], existing.stream != nil || existing.requested {
            return nil  // already on its way
        }
        self.pending[digest] = Pending(offer: offer, lastActivity: .now, stream: nil, requested: true)
        let object = try self.store.begin(offer)
        let request = Self.request(for: object)
        if object.isComplete { return request }
        self.logger.info("transfer starting", metadata: [
            "object": "\(digest)", "kind": "\(offer.kind)", "name": "\(offer.name)",
            "blocks": "\(object.blockCount)", "resume_at": "\(request.firstBlock)", "resume_offset": "\(request.resume?.offset ?? 0)",
        ])
        return request
    }

    /// The request that picks up where `object` stopped, inside a block when its start is held.
    private static func request(for object: IncomingObject) -> TransferRequest {
        let point = object.resumePoint()
        return TransferRequest(digest: object.digest, firstBlock: point.firstBlock, resume: point.resume)
    }

    /// The request for an object a deployment or config generation needs, or nil
    /// when it is here or already on its way. Needs no offer: the reference says
    /// how big it is and how it is cut.
    func fetch(_ reference: Deploy.ObjectRef, kind: String, name: String) throws -> TransferRequest? {
        try self.offered(TransferOffer(digest: reference.digest, size: reference.size, blockSize: reference.blockSize, kind: kind, name: name))
    }

    /// Forgets a verified object that has been used up (copied into place).
    func discard(_ digest: ContentDigest) {
        unlink(self.store.objectPath(digest))
        self.completed[digest] = nil
    }

    /// Waits until the object is here (verified), across reconnects; throws when the
    /// sender said it does not have it, and `CancellationError` when the waiting task
    /// is cancelled.
    func arrival(of digest: ContentDigest) async throws -> String {
        if self.store.has(digest) { return self.store.objectPath(digest) }
        if let reason = self.missing[digest] { throw WireError(.notFound, "object \(digest) is not available: \(reason)") }
        return try await self.waiting.wait(for: digest)
    }

    private let waiting = ArrivalWaiters()
    /// Objects the sender said it does not have, until they are asked for again.
    private var missing: [ContentDigest: String] = [:]

    /// The sender does not have the object (TRANSFER_ABORT with NOT_FOUND): stop asking
    /// for it and fail whoever waits for it. A later offer or deployment asks again.
    func unavailable(_ digest: ContentDigest, reason: String) {
        self.pending[digest] = nil
        self.missing[digest] = reason
        self.waiting.fail(digest, WireError(.notFound, "object \(digest) is not available: \(reason)"))
    }

    /// Our request went out on `stream`.
    func opened(_ stream: StreamID, _ request: TransferRequest) throws {
        guard let digest = request.digest, var pending = self.pending[digest] else { return }
        let object = try self.store.begin(pending.offer)
        var parser = BlockParser(blockSize: object.blockSize, firstIndex: UInt32(clamping: request.firstBlock))
        // Asked to continue inside a block: the parser takes the continuation, with a zlib block's bytes so far.
        let point = object.resumePoint()
        if let resume = request.resume, resume == point.resume, request.firstBlock == point.firstBlock, let prefix = object.heldPrefix(for: resume) {
            parser = BlockParser(blockSize: object.blockSize, resuming: UInt32(request.firstBlock), at: resume, prefix: prefix)
        }
        self.streams[stream] = Receiving(object: object, parser: parser)
        pending.stream = stream
        pending.lastActivity = .now
        self.pending[digest] = pending
    }

    /// Streams that carried nothing for the stall timeout (to cancel), and requests
    /// for offers whose stream failed (to send again, resuming where they stopped).
    func housekeeping() throws -> (stalled: [StreamID], retry: [TransferRequest]) {
        let now = ContinuousClock.now
        var stalled: [StreamID] = []
        var retry: [TransferRequest] = []
        for (digest, var pending) in self.pending where now - pending.lastActivity >= self.stallTimeout {
            if let stream = pending.stream {
                self.logger.warning("transfer stalled; asking again", metadata: ["object": "\(digest)"])
                stalled.append(stream)
                self.streams[stream] = nil
            }
            pending.stream = nil
            pending.requested = true
            pending.lastActivity = now
            self.pending[digest] = pending
            retry.append(Self.request(for: try self.store.begin(pending.offer)))
        }
        return (stalled, retry)
    }

    /// This site could not write an object (no space left, an I/O error): a fault of
    /// the site, not of the link or the sender. Only that transfer stops; housekeeping
    /// asks for it again, so it resumes by itself once the write can succeed.
    struct StorageFailure: Error, CustomStringConvertible {
        var digest: ContentDigest
        var underlying: AtomicFile.Failure
        var description: String { "cannot store object \(self.digest): \(String(cString: strerror(self.underlying.errno)))" }
        /// The file system that failed, for the alarm.
        var path: String { self.underlying.path }
    }

    /// The storage failure reported last and not yet followed by a stored object.
    private(set) var storageFailure: StorageFailure?

    /// Writes stream bytes and records the block in progress; returns how many were
    /// consumed (for flow-control credit) and how many of them this site held already
    /// (what cuts cost). Throws `WireError` for what the sender got wrong,
    /// `StorageFailure` for what this site could not write.
    func received(_ bytes: ByteBuffer, on stream: StreamID) throws -> (consumed: Int, resent: Int) {
        guard var receiving = self.streams[stream] else { return (bytes.readableBytes, 0) }
        self.pending[receiving.object.digest]?.lastActivity = .now
        receiving.parser.append(bytes)
        var resent = 0
        do {
            while let piece = try receiving.parser.next() {
                resent += try receiving.object.write(piece)
            }
            resent += try receiving.object.keepPartial(receiving.parser.partialBlock)
        } catch let failure as AtomicFile.Failure {
            let storage = StorageFailure(digest: receiving.object.digest, underlying: failure)
            self.storageFailure = storage
            throw storage
        }
        self.streams[stream] = receiving
        return (bytes.readableBytes, resent)
    }

    /// Clears the storage failure once an object was stored again; returns it, for the alarm clear.
    func storageRecovered() -> StorageFailure? {
        defer { self.storageFailure = nil }
        return self.storageFailure
    }

    /// The sender says it is done: verify and publish.
    func ended(_ stream: StreamID) throws -> String? {
        guard let receiving = self.streams.removeValue(forKey: stream) else { return nil }
        self.pending[receiving.object.digest]?.stream = nil
        self.pending[receiving.object.digest]?.requested = false
        guard receiving.object.isComplete else {
            self.logger.warning("transfer ended with blocks missing", metadata: ["object": "\(receiving.object.digest)", "first_missing": "\(receiving.object.firstMissingBlock)"])
            return nil
        }
        let path = try receiving.object.finish()
        self.pending[receiving.object.digest] = nil
        self.completed[receiving.object.digest] = path
        self.waiting.resume(receiving.object.digest, path: path)
        self.logger.info("transfer complete", metadata: ["object": "\(receiving.object.digest)", "path": "\(path)"])
        return path
    }

    /// The stream ended early (abort, reset, lost connection): keep the partial data;
    /// housekeeping asks again after the stall timeout, or a new offer sooner.
    func abandoned(_ stream: StreamID) {
        if let digest = self.streams.removeValue(forKey: stream)?.object.digest {
            self.pending[digest]?.stream = nil
            self.pending[digest]?.requested = false
        }
    }

    /// The connection is gone: every stream with it. Offers stay pending for the next connection.
    func abandonAll() {
        self.streams.removeAll()
        for digest in self.pending.keys {
            self.pending[digest]?.stream = nil
            self.pending[digest]?.requested = false
        }
    }
}
