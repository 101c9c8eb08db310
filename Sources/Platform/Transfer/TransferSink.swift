import Logging
import NIOCore
import Wire

/// What the agent's connection tells the application: the protocol's events, and
/// what became of the transfer streams the sink handled on the event loop.
public enum TransferEvent: Sendable {
    case wire(WireEvent)
    /// The sender ended the stream and everything it sent is on disk: the object was
    /// verified and published (its path), is still missing blocks (nil), or failed.
    case transferEnded(StreamID, ContentDigest, Result<String?, any Error>)
    /// The stream stopped here — the sender's bytes broke a protocol rule (a
    /// `WireError`) or this site could not store them (an `AtomicFile.Failure`) —
    /// and was reset.
    case transferFailed(StreamID, ContentDigest, any Error)
}

/// Receives transfer streams on the event loop (PROTOCOL.md §7.4): DATA is parsed
/// into block pieces where it arrives, the pieces go to the object's writer (file
/// work on the thread pool), and flow-control credit goes back once they are
/// written, so the sender runs exactly as fast as this site's disk. Nothing of a
/// transfer's bytes passes through an async sequence or an actor.
///
/// Sits between `WireConnectionHandler` and the `NIOAsyncChannel`. Streams it does
/// not know pass through as `.wire` events.
public final class TransferSink: ChannelDuplexHandler {
    public typealias InboundIn = WireEvent
    public typealias InboundOut = TransferEvent
    public typealias OutboundIn = WireCommand
    public typealias OutboundOut = WireCommand

    private struct Receiving {
        var writer: ObjectWriter
        var parser: BlockParser
    }

    private let writers: ObjectWriters
    private let counters: TransferCounters
    private let logger: Logger
    private var streams: [StreamID: Receiving] = [:]

    public init(writers: ObjectWriters, counters: TransferCounters, logger: Logger) {
        self.writers = writers
        self.counters = counters
        self.logger = logger
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let event = self.unwrapInboundIn(data)
        switch event {
        case .streamOpened(let stream, .transferRequest(let request)):
            if let digest = request.digest, let writer = self.writers[digest], let parser = writer.takeParser(for: request) {
                self.streams[stream] = Receiving(writer: writer, parser: parser)
            }
        case .data(let stream, let bytes, _):
            guard self.streams[stream] != nil else {
                // Not a stream of ours (or one already given up): its credit goes back at once.
                context.write(self.wrapOutboundOut(.consumed(stream, count: bytes.readableBytes)), promise: nil)
                return
            }
            self.received(bytes, on: stream, context: context)
            return
        case .message(let stream, .transferEnd, _):
            if let receiving = self.streams.removeValue(forKey: stream) {
                self.finish(stream, receiving.writer, context: context)
                return
            }
        case .message(let stream, .transferAbort, _), .streamReset(let stream, _):
            self.streams[stream] = nil
        default:
            break
        }
        context.fireChannelRead(self.wrapInboundOut(.wire(event)))
    }

    public func channelInactive(context: ChannelHandlerContext) {
        // Writes already submitted still land; the next connection resumes after them.
        self.streams.removeAll()
        context.fireChannelInactive()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .reset(let stream, _) = self.unwrapOutboundIn(data) {
            self.streams[stream] = nil
        }
        context.write(data, promise: promise)
    }

    /// Parses what arrived into pieces here, writes them off the loop, and returns
    /// credit when they are written.
    private func received(_ bytes: ByteBuffer, on stream: StreamID, context: ChannelHandlerContext) {
        guard var receiving = self.streams[stream] else { return }
        receiving.writer.touch()
        receiving.parser.append(bytes)
        var pieces: [BlockPiece] = []
        do {
            while let piece = try receiving.parser.next() { pieces.append(piece) }
        } catch {
            self.fail(stream, receiving.writer.digest, error, credit: bytes.readableBytes, context: context)
            return
        }
        let partial = receiving.parser.partialBlock
        let parsed = pieces
        let digest = receiving.writer.digest
        self.streams[stream] = receiving
        let count = bytes.readableBytes
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        receiving.writer.run { object -> Int in
            var resent = 0
            for piece in parsed { resent += try object.write(piece) }
            return resent + (try object.keepPartial(partial))
        }.hop(to: context.eventLoop).whenComplete { result in
            let (sink, context) = loopBound.value
            switch result {
            case .success(let resent):
                sink.counters.record(bytes: count, resent: resent)
                context.writeAndFlush(sink.wrapOutboundOut(.consumed(stream, count: count)), promise: nil)
            case .failure(let error):
                guard sink.streams[stream] != nil else {
                    context.writeAndFlush(sink.wrapOutboundOut(.consumed(stream, count: count)), promise: nil)
                    return
                }
                sink.fail(stream, digest, error, credit: count, context: context)
                context.fireChannelReadComplete()
            }
        }
    }

    /// The sender is done: once every write before it has landed, verify and publish.
    private func finish(_ stream: StreamID, _ writer: ObjectWriter, context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        writer.run { object -> String? in
            object.isComplete ? try object.finish() : nil
        }.hop(to: context.eventLoop).whenComplete { result in
            let (sink, context) = loopBound.value
            context.fireChannelRead(sink.wrapInboundOut(.transferEnded(stream, writer.digest, result)))
            context.fireChannelReadComplete()
        }
    }

    /// Resets the stream; the connection's credit for `credit` bytes goes back (the
    /// connection window must not shrink by what a failed stream carried).
    private func fail(_ stream: StreamID, _ digest: ContentDigest, _ error: any Error, credit: Int, context: ChannelHandlerContext) {
        self.streams[stream] = nil
        context.write(self.wrapOutboundOut(.consumed(stream, count: credit)), promise: nil)
        // The sender's mistake keeps its code; this site's own trouble cancels the stream.
        let code = (error as? WireError).map { $0.code.isConnectionError ? .internalError : $0.code } ?? .cancel
        context.writeAndFlush(self.wrapOutboundOut(.reset(stream, code)), promise: nil)
        context.fireChannelRead(self.wrapInboundOut(.transferFailed(stream, digest, error)))
    }
}

@available(*, unavailable)
extension TransferSink: Sendable {}
