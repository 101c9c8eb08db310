import NIOCore

/// What a connection tells the application (inbound side of `WireConnectionHandler`).
public enum WireEvent: Sendable {
    /// The handshake completed.
    case established(Negotiated)
    /// A message on stream 0 or on a stream.
    case message(StreamID, Message, endStream: Bool)
    /// Stream bytes. Send `.consumed` once they are processed, or the peer's window stays shut.
    case data(StreamID, ByteBuffer, endStream: Bool)
    /// A stream this side asked to open now has its id.
    case streamOpened(StreamID, Message)
    /// A stream could not be opened (GOAWAY received, or the peer's stream limit).
    case streamRefused(Message)
    /// The stream ended abnormally, by the peer or by a stream error here.
    case streamReset(StreamID, WireErrorCode)
    /// Everything queued on a stream with `.serve` or `.data` has been handed to the transport.
    case streamDrained(StreamID)
    /// The peer is going away.
    case goAway(GoAway)
    /// A PING we sent came back.
    case roundTrip(TimeAmount)
}

/// What the application asks of a connection (outbound side of `WireConnectionHandler`).
public enum WireCommand: Sendable {
    /// Send a message on stream 0 or on an open stream.
    case message(Message, stream: StreamID = 0, endStream: Bool = false)
    /// Open a new stream with `message` (a TRANSFER_REQUEST); answered by `.streamOpened` or `.streamRefused`.
    case openStream(Message)
    /// Queue stream bytes; they go out as the peer's windows allow.
    case data(StreamID, ByteBuffer, endStream: Bool)
    /// Stream the blocks `firstBlock..<source.blockCount` of `source`, then `end` with END_STREAM;
    /// with `resume`, block `firstBlock` goes as a continuation when it encodes as the receiver's copy did (PROTOCOL.md §7.5).
    case serve(StreamID, source: any TransferSource, firstBlock: UInt64, end: Message, resume: BlockResume? = nil)
    /// The application processed `count` DATA bytes of a stream: return flow-control credit.
    case consumed(StreamID, count: Int)
    /// End a stream at once.
    case reset(StreamID, WireErrorCode)
    /// Measure round-trip time.
    case ping
    /// Start shutdown: GOAWAY now, close once open streams finish.
    case goAway(WireErrorCode, reason: String)
}

/// Blocks of one transfer object, ready to send (compressed once, cached by the owner).
///
/// The handler asks for one block ahead of what it is sending, so memory stays at
/// about two blocks per stream and making the next block overlaps sending this one.
public protocol TransferSource: Sendable {
    var blockCount: UInt64 { get }
    func block(at index: UInt64) throws -> EncodedBlock
    /// The block, completed on `eventLoop`. Sources that read files or compress MUST
    /// do that work elsewhere (a thread pool): the event loop also carries every
    /// control frame of its connections. The default calls `block(at:)` in place,
    /// for sources that hold their blocks in memory.
    func block(at index: UInt64, on eventLoop: any EventLoop) -> EventLoopFuture<EncodedBlock>
}

extension TransferSource {
    public func block(at index: UInt64, on eventLoop: any EventLoop) -> EventLoopFuture<EncodedBlock> {
        eventLoop.makeCompletedFuture { try self.block(at: index) }
    }
}

extension TransferRequest {
    /// The answer to this request on `stream` (PROTOCOL.md §7.4): the blocks from
    /// `source`, or TRANSFER_ABORT saying why not (no such object: NOT_FOUND; a first
    /// block past the object's end: PROTOCOL_ERROR).
    public func answer(on stream: StreamID, from source: (any TransferSource)?) -> WireCommand {
        guard let digest = self.digest, let source else {
            return .message(.transferAbort(TransferAbort(digest: self.digest, code: .notFound, reason: "no such object")), stream: stream, endStream: true)
        }
        guard self.firstBlock <= source.blockCount else {
            let abort = TransferAbort(digest: digest, code: .protocolError, reason: "first block \(self.firstBlock) beyond \(source.blockCount)")
            return .message(.transferAbort(abort), stream: stream, endStream: true)
        }
        let end = Message.transferEnd(TransferEnd(digest: digest, blocksSent: source.blockCount - self.firstBlock))
        return .serve(stream, source: source, firstBlock: self.firstBlock, end: end, resume: self.resume)
    }
}
