import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Wire

/// The one way to touch an object being received: its file work (pwrite, the
/// block records, fsync and the digest check) runs on the NIO thread pool, one job
/// at a time and in the order it was submitted, whichever stream or connection
/// submitted it. Neither an event loop nor a cooperative thread ever blocks on it.
public final class ObjectWriter: Sendable {
    public let digest: ContentDigest
    public let blockSize: Int
    /// Only touched inside `run`, by one job at a time.
    private nonisolated(unsafe) let object: IncomingObject
    private let pool: NIOThreadPool
    private let loop: any EventLoop

    private struct State {
        /// Completes when every job submitted so far has run.
        var tail: EventLoopFuture<Void>
        /// What the stream the last `plan()` asked for needs, taken when it opens.
        var planned: Plan?
        /// When a stream last brought bytes for this object.
        var lastActivity: ContinuousClock.Instant
    }

    private let state: NIOLockedValueBox<State>

    public init(_ object: IncomingObject, pool: NIOThreadPool = .singleton, loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()) {
        self.digest = object.digest
        self.blockSize = object.blockSize
        self.object = object
        self.pool = pool
        self.loop = loop
        self.state = NIOLockedValueBox(State(tail: loop.makeSucceededVoidFuture(), planned: nil, lastActivity: .now))
    }

    /// Runs `body` on the thread pool after every job submitted before it.
    public func run<Result: Sendable>(_ body: @escaping @Sendable (IncomingObject) throws -> Result) -> EventLoopFuture<Result> {
        self.state.withLockedValue { state in
            let result = state.tail.flatMap {
                self.pool.runIfActive(eventLoop: self.loop) { try body(self.object) }
            }
            state.tail = result.map { _ in }.recover { _ in }
            return result
        }
    }

    /// A request and what its stream's parser starts from.
    public struct Plan: Sendable {
        var request: TransferRequest
        var blockSize: Int
        /// For a request that continues inside a block, the encoded bytes of it held here.
        var prefix: ByteBuffer?

        /// The parser for the stream: from the first block asked for, or inside it.
        func parser() -> BlockParser {
            if let resume = self.request.resume, let prefix = self.prefix {
                return BlockParser(blockSize: self.blockSize, resuming: UInt32(clamping: self.request.firstBlock), at: resume, prefix: prefix)
            }
            return BlockParser(blockSize: self.blockSize, firstIndex: UInt32(clamping: self.request.firstBlock))
        }
    }

    /// The request that resumes where the object stopped (after every write submitted
    /// so far); what its stream will need is kept until the stream opens.
    public func plan() async throws -> (request: TransferRequest, complete: Bool) {
        let (plan, complete) = try await self.run { object -> (Plan, Bool) in
            let point = object.resumePoint()
            // Inside a block only when its held start can be read back (PROTOCOL.md §7.5).
            if let resume = point.resume, let prefix = object.heldPrefix(for: resume) {
                let request = TransferRequest(digest: object.digest, firstBlock: point.firstBlock, resume: resume)
                return (Plan(request: request, blockSize: object.blockSize, prefix: prefix), object.isComplete)
            }
            let request = TransferRequest(digest: object.digest, firstBlock: point.firstBlock)
            return (Plan(request: request, blockSize: object.blockSize, prefix: nil), object.isComplete)
        }.get()
        self.state.withLockedValue { $0.planned = plan }
        return (plan.request, complete)
    }

    /// The parser for a stream opened with `request`, if it is the one last planned.
    public func takeParser(for request: TransferRequest) -> BlockParser? {
        let plan = self.state.withLockedValue { state -> Plan? in
            guard let planned = state.planned, planned.request == request else { return nil }
            state.planned = nil
            return planned
        }
        return plan?.parser()
    }

    public func touch() {
        self.state.withLockedValue { $0.lastActivity = .now }
    }

    public var lastActivity: ContinuousClock.Instant { self.state.withLockedValue { $0.lastActivity } }
}

/// The writers of objects on their way, by digest: `Transfers` adds them before it
/// asks for an object; the connection's `TransferSink` finds them when the stream opens.
public final class ObjectWriters: Sendable {
    private let writers = NIOLockedValueBox<[ContentDigest: ObjectWriter]>([:])

    public init() {}

    public subscript(digest: ContentDigest) -> ObjectWriter? {
        self.writers.withLockedValue { $0[digest] }
    }

    public func add(_ writer: ObjectWriter) {
        self.writers.withLockedValue { $0[writer.digest] = writer }
    }

    public func remove(_ digest: ContentDigest) {
        self.writers.withLockedValue { $0[digest] = nil }
    }
}
