import Foundation
import Logging
import NIOCore
import Wire

#if canImport(Glibc)
import Glibc
#endif

/// The agent's side of transfers (PROTOCOL.md §7.4): answers offers with a request
/// that resumes at the first missing block, keeps track of which stream carries
/// which object, asks again when a stream fails or stalls, and wakes whoever waits
/// for an object once it is verified. Lives across connections, so a cut link
/// resumes where it stopped; partial files survive an agent restart too.
///
/// The bytes themselves never pass through here: the connection's `TransferSink`
/// parses them on the event loop and an `ObjectWriter` writes them on the thread pool.
public actor Transfers {
    private let store: TransferStore
    private let logger: Logger
    /// The writers of objects on their way, shared with each connection's sink.
    public nonisolated let writers: ObjectWriters
    /// Streams this side opened, by id, and the object each carries.
    private var streams: [StreamID: ContentDigest] = [:]
    /// Offers not yet satisfied: asked for again when their stream fails or stalls.
    private var pending: [ContentDigest: Pending] = [:]
    /// A stream with no data for this long is cancelled and asked for again.
    public let stallTimeout: Duration

    private struct Pending {
        var offer: TransferOffer
        var writer: ObjectWriter
        /// When the stream for this object was opened or asked for again.
        var askedAt: ContinuousClock.Instant
        var stream: StreamID?
        /// A request went out and its stream is not known yet (or is open): a second
        /// offer of the same object, say one repeated at connect, must not ask twice.
        var requested = false

        /// When anything last happened for this object: a request, or bytes arriving.
        var lastActivity: ContinuousClock.Instant { max(self.askedAt, self.writer.lastActivity) }
    }
    /// Objects published since start, by digest (for status and tests).
    private(set) var completed: [ContentDigest: String] = [:]

    /// `writers` is shared with the sink of the connection(s) this instance asks on.
    public init(stateDirectory: String, stallTimeout: Duration = .seconds(30), writers: ObjectWriters = ObjectWriters(), logger: Logger) throws {
        self.store = try TransferStore(stateDirectory: stateDirectory)
        self.writers = writers
        self.stallTimeout = stallTimeout
        self.logger = logger
    }

    /// The request to send for an offer, or nil when the object is already here or on its way.
    public func offered(_ offer: TransferOffer) async throws -> TransferRequest? {
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
        let writer = try self.writers[digest] ?? ObjectWriter(self.store.begin(offer))
        self.writers.add(writer)
        self.pending[digest] = Pending(offer: offer, writer: writer, askedAt: .now, stream: nil, requested: true)
        let (request, complete) = try await writer.plan()
        if complete { return request }
        self.logger.info("transfer starting", metadata: [
            "object": "\(digest)", "kind": "\(offer.kind)", "name": "\(offer.name)",
            "resume_at": "\(request.firstBlock)", "resume_offset": "\(request.resume?.offset ?? 0)",
        ])
        return request
    }

    /// The request for an object a deployment or config generation needs, or nil
    /// when it is here or already on its way. Needs no offer: the reference says
    /// how big it is and how it is cut.
    public func fetch(_ reference: ObjectRef, kind: String, name: String) async throws -> TransferRequest? {
        try await self.offered(TransferOffer(reference, kind: kind, name: name))
    }

    /// Where a verified copy of the object is, if it is here (a restart may find objects
    /// that were verified but not yet taken by their user).
    public func verifiedPath(_ digest: ContentDigest) -> String? {
        self.store.has(digest) ? self.store.objectPath(digest) : nil
    }

    /// Forgets a verified object that has been used up (copied into place).
    public func discard(_ digest: ContentDigest) {
        unlink(self.store.objectPath(digest))
        self.completed[digest] = nil
    }

    /// Waits until the object is here (verified), across reconnects; throws when the
    /// sender said it does not have it, and `CancellationError` when the waiting task
    /// is cancelled.
    public func arrival(of digest: ContentDigest) async throws -> String {
        if self.store.has(digest) { return self.store.objectPath(digest) }
        if let reason = self.missing[digest] { throw WireError(.notFound, "object \(digest) is not available: \(reason)") }
        return try await self.waiting.wait(for: digest)
    }

    private let waiting = ArrivalWaiters()
    /// Objects the sender said it does not have, until they are asked for again.
    private var missing: [ContentDigest: String] = [:]

    /// The sender does not have the object (TRANSFER_ABORT with NOT_FOUND): stop asking
    /// for it and fail whoever waits for it. A later offer or deployment asks again.
    public func unavailable(_ digest: ContentDigest, reason: String) {
        self.pending[digest] = nil
        // Its partial files stay on disk for a later offer; its open descriptors go.
        self.writers.remove(digest)
        self.missing[digest] = reason
        self.waiting.fail(digest, WireError(.notFound, "object \(digest) is not available: \(reason)"))
    }

    /// Our request went out on `stream`.
    public func opened(_ stream: StreamID, _ request: TransferRequest) {
        guard let digest = request.digest, self.pending[digest] != nil else { return }
        self.streams[stream] = digest
        self.pending[digest]?.stream = stream
        self.pending[digest]?.askedAt = .now
    }

    /// Streams that carried nothing for the stall timeout (to cancel), and requests
    /// for offers whose stream failed (to send again, resuming where they stopped).
    public func housekeeping(now: ContinuousClock.Instant = .now) async throws -> (stalled: [StreamID], retry: [TransferRequest]) {
        var stalled: [StreamID] = []
        var retry: [TransferRequest] = []
        for (digest, pending) in self.pending where now - pending.lastActivity >= self.stallTimeout {
            if let stream = pending.stream {
                self.logger.warning("transfer stalled; asking again", metadata: ["object": "\(digest)"])
                stalled.append(stream)
                self.streams[stream] = nil
            }
            self.pending[digest]?.stream = nil
            self.pending[digest]?.requested = true
            self.pending[digest]?.askedAt = now
            retry.append(try await pending.writer.plan().request)
        }
        return (stalled, retry)
    }

    /// This site could not write an object (no space left, an I/O error): a fault of
    /// the site, not of the link or the sender. Only that transfer stops; housekeeping
    /// asks for it again, so it resumes by itself once the write can succeed.
    public struct StorageFailure: Error, CustomStringConvertible {
        public var digest: ContentDigest
        public var underlying: AtomicFile.Failure
        public var description: String { "cannot store object \(self.digest): \(String(cString: strerror(self.underlying.errno)))" }
        /// The file system that failed, for the alarm.
        public var path: String { self.underlying.path }
    }

    /// The storage failure reported last and not yet followed by a stored object.
    private(set) var storageFailure: StorageFailure?

    /// The sink stopped a stream: the sender broke a rule, or this site could not
    /// store the bytes (returned as a `StorageFailure`, for the alarm). Housekeeping
    /// asks again.
    public func failed(_ stream: StreamID, _ digest: ContentDigest, _ error: any Error) -> StorageFailure? {
        self.abandoned(stream)
        guard let failure = error as? AtomicFile.Failure else { return nil }
        let storage = StorageFailure(digest: digest, underlying: failure)
        self.storageFailure = storage
        return storage
    }

    /// Clears the storage failure once an object was stored again; returns it, for the alarm clear.
    public func storageRecovered() -> StorageFailure? {
        defer { self.storageFailure = nil }
        return self.storageFailure
    }

    /// The sender ended the stream and the sink finished the object: published (its
    /// path), still missing blocks (nil), or rejected (the error; the next request starts over).
    public func ended(_ stream: StreamID, _ digest: ContentDigest, _ result: Result<String?, any Error>) throws -> String? {
        self.streams[stream] = nil
        self.pending[digest]?.stream = nil
        self.pending[digest]?.requested = false
        guard let path = try result.get() else {
            self.logger.warning("transfer ended with blocks missing", metadata: ["object": "\(digest)"])
            return nil
        }
        self.pending[digest] = nil
        self.writers.remove(digest)
        self.completed[digest] = path
        self.waiting.resume(digest, path: path)
        self.logger.info("transfer complete", metadata: ["object": "\(digest)", "path": "\(path)"])
        return path
    }

    /// The stream ended early (abort, reset, lost connection): the partial data stays;
    /// housekeeping asks again after the stall timeout, or a new offer sooner.
    public func abandoned(_ stream: StreamID) {
        if let digest = self.streams.removeValue(forKey: stream) {
            self.pending[digest]?.stream = nil
            self.pending[digest]?.requested = false
        }
    }

    /// The connection is gone: every stream with it. Offers stay pending for the next connection.
    public func abandonAll() {
        self.streams.removeAll()
        for digest in self.pending.keys {
            self.pending[digest]?.stream = nil
            self.pending[digest]?.requested = false
        }
    }
}
