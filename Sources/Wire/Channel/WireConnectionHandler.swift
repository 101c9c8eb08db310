import Logging
import NIOCore
import NIOSSL
import NIOTLS
import X509

/// The NIO side of one Tern connection: bytes in, frames to the state machine,
/// actions out. It owns no protocol rules of its own.
///
/// Sits above `NIOSSLHandler`; wrap the channel in `NIOAsyncChannel<WireEvent, WireCommand>`
/// to drive it from structured concurrency.
public final class WireConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = WireEvent
    public typealias OutboundIn = WireCommand
    public typealias OutboundOut = ByteBuffer

    private var machine: SessionStateMachine
    private var parser = FrameParser()
    private var queue = OutboundQueue()
    private var bulkFrameInFlight = false
    /// Inside `pumpBulk`: a write completion then only clears `bulkFrameInFlight`.
    private var pumping = false
    private var timer: RepeatedTask?
    private let overTLS: Bool
    private let role: SessionStateMachine.Role
    private let alpn: String
    private let logger: Logger

    /// - Parameters:
    ///   - overTLS: wait for the TLS handshake (and check ALPN and the peer
    ///     certificate) before starting; false only for tests over plain channels.
    ///   - alpn: the ALPN protocol this port speaks (PROTOCOL.md §2).
    public init(
        role: SessionStateMachine.Role, configuration: SessionConfiguration, overTLS: Bool = true,
        alpn: String = TLSPolicy.protocolALPN, logger: Logger
    ) {
        self.machine = SessionStateMachine(role: role, configuration: configuration)
        self.overTLS = overTLS
        self.role = role
        self.alpn = alpn
        self.logger = logger
    }

    public func channelActive(context: ChannelHandlerContext) {
        if !self.overTLS { self.start(context: context) }
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.machine.closed()
        self.timer?.cancel()
        self.timer = nil
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted(let alpn) = event {
            // PROTOCOL.md §2.1: a port speaks only its own ALPN protocol.
            guard alpn == self.alpn else {
                self.logger.warning("closing connection without the Tern ALPN", metadata: ["alpn": "\(alpn ?? "none")"])
                context.close(promise: nil)
                return
            }
            // The protocol port's server side needs the client certificate's name and serial
            // for every later check: one it cannot read closes the connection (fail closed).
            switch Self.peerIdentity(context: context) {
            case .success(let (identity, serial)):
                self.machine.peerCertificateVerified(identity: identity, serial: serial)
            case .failure(let reason) where self.role == .server && self.alpn == TLSPolicy.protocolALPN:
                self.logger.warning("closing connection: unusable client certificate", metadata: ["reason": "\(reason)"])
                context.close(promise: nil)
                return
            case .failure:
                break
            }
            self.start(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Why a peer certificate gave no identity.
    struct UnusableCertificate: Error, CustomStringConvertible {
        var description: String
    }

    /// The verified client certificate's common name and serial (server side).
    private static func peerIdentity(context: ChannelHandlerContext) -> Result<(String, String), UnusableCertificate> {
        let certificate: NIOSSLCertificate
        do {
            guard let peer = try context.pipeline.syncOperations.nioSSL_peerCertificate() else {
                return .failure(UnusableCertificate(description: "no client certificate"))
            }
            certificate = peer
        } catch {
            return .failure(UnusableCertificate(description: "the TLS layer gave no peer certificate"))
        }
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else {
            return .failure(UnusableCertificate(description: "the client certificate cannot be parsed"))
        }
        guard let name = parsed.subjectCommonName, !name.isEmpty else {
            return .failure(UnusableCertificate(description: "the client certificate names no subcloud"))
        }
        return .success((name, parsed.serialHex))
    }

    private func start(context: ChannelHandlerContext) {
        if let hello = self.machine.start(now: .now()) {
            self.writeControl(hello, context: context)
            context.flush()
        }
        self.scheduleTimer(context: context, every: .milliseconds(250))
    }

    private func scheduleTimer(context: ChannelHandlerContext, every interval: TimeAmount) {
        self.timer?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let (handler, context) = loopBound.value
            handler.tick(context: context)
        }
    }

    private func tick(context: ChannelHandlerContext) {
        switch self.machine.tick(now: .now()) {
        case .none:
            break
        case .write(let frame):
            self.writeControl(frame, context: context)
            context.flush()
        case .closeConnection(let error, let goAway):
            self.logger.warning("closing connection", metadata: ["error": "\(error)"])
            self.writeControl(goAway, context: context)
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer()), promise: nil)
            context.close(promise: nil)
        }
    }

    // MARK: Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        self.parser.append(bytes: &bytes)
        do {
            while !self.isClosed, let frame = try self.parser.nextFrame() {
                self.handle(self.machine.received(frame, now: .now()), context: context)
                self.parser.maxFrameSize = self.machine.inboundMaxFrameSize
            }
        } catch let error as WireError {
            self.handle(self.machine.fail(error), context: context)
        } catch {
            self.handle(self.machine.fail(WireError(.internalError, "\(error)")), context: context)
        }
        self.closeIfDoneAfterPeerGoAway(context: context)
    }

    /// PROTOCOL.md §5.6: after the peer's GOAWAY(NO_ERROR), the open streams finish
    /// and then the connection closes; it is not left open with nothing to do.
    private func closeIfDoneAfterPeerGoAway(context: ChannelHandlerContext) {
        guard !self.isClosed, self.machine.isDoneAfterPeerGoAway, self.queue.streams.isEmpty, !self.bulkFrameInFlight else { return }
        self.closeNow(context: context)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        // The application may answer the burst it just read (credit, replies): flush after it.
        context.fireChannelReadComplete()
        context.flush()
    }

    private var isClosed = false

    private func handle(_ action: SessionStateMachine.ReceiveAction, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .write(let frame):
            self.writeControl(frame, context: context)
        case .established(let negotiated, let reply):
            if let reply { self.writeControl(reply, context: context) }
            let interval = max(TimeAmount.milliseconds(50), min(.seconds(5), .nanoseconds(negotiated.heartbeatInterval.nanoseconds / 4)))
            self.scheduleTimer(context: context, every: interval)
            context.fireChannelRead(self.wrapInboundOut(.established(negotiated)))
        case .message(let stream, let message, let endStream):
            context.fireChannelRead(self.wrapInboundOut(.message(stream, message, endStream: endStream)))
        case .data(let stream, let bytes, let endStream):
            context.fireChannelRead(self.wrapInboundOut(.data(stream, bytes, endStream: endStream)))
        case .windowOpened:
            self.pumpBulk(context: context)
        case .streamReset(let stream, let code):
            self.queue.remove(stream)
            context.fireChannelRead(self.wrapInboundOut(.streamReset(stream, code)))
        case .goAway(let goAway):
            context.fireChannelRead(self.wrapInboundOut(.goAway(goAway)))
            if goAway.code != .noError || !self.machine.isEstablished {
                self.closeNow(context: context)
            }
        case .pong(let roundTrip):
            context.fireChannelRead(self.wrapInboundOut(.roundTrip(roundTrip)))
        case .resetStream(let stream, let error, let frame, let credit):
            self.logger.debug("stream error", metadata: ["stream": "\(stream)", "error": "\(error)"])
            self.queue.remove(stream)
            self.writeControl(frame, context: context)
            if let credit { self.writeControl(credit, context: context) }
            context.fireChannelRead(self.wrapInboundOut(.streamReset(stream, error.code)))
        case .closeConnection(let error, let goAway):
            self.logger.warning("connection error", metadata: ["error": "\(error)"])
            if let goAway { self.writeControl(goAway, context: context) }
            self.closeNow(context: context)
        }
    }

    private func closeNow(context: ChannelHandlerContext) {
        guard !self.isClosed else { return }
        self.isClosed = true
        self.timer?.cancel()
        context.flush()
        context.close(promise: nil)
    }

    // MARK: Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = self.unwrapOutboundIn(data)
        do {
            try self.perform(command, context: context)
            promise?.succeed()
        } catch {
            promise?.fail(error)
        }
        self.closeIfDoneAfterPeerGoAway(context: context)
    }

    private func perform(_ command: WireCommand, context: ChannelHandlerContext) throws {
        switch command {
        case .message(let message, let stream, true) where self.queue.streams[stream] != nil:
            // A stream's last message goes after the data queued before it.
            self.queue.enqueue(stream) { $0.finalMessage = message }
            self.pumpBulk(context: context)
        case .message(let message, let stream, let endStream):
            self.writeControl(try self.machine.send(message, on: stream, endStream: endStream), context: context)
        case .openStream(let message):
            guard let id = self.machine.nextStreamID() else {
                context.fireChannelRead(self.wrapInboundOut(.streamRefused(message)))
                return
            }
            self.writeControl(try self.machine.send(message, on: id, endStream: true), context: context)
            context.fireChannelRead(self.wrapInboundOut(.streamOpened(id, message)))
        case .data(let stream, _, _) where !self.machine.isOpenForSending(stream),
             .serve(let stream, _, _, _, _) where !self.machine.isOpenForSending(stream):
            // PROTOCOL.md §6.1: nothing more goes out on a stream after RESET (ours or the
            // peer's). The application learnt of the reset from `.streamReset`.
            self.logger.debug("dropping output for a closed stream", metadata: ["stream": "\(stream)"])
        case .data(let stream, let bytes, let endStream):
            self.queue.enqueue(stream) { pending in
                pending.append(bytes)
                pending.endStreamAfterBytes = pending.endStreamAfterBytes || endStream
            }
            self.pumpBulk(context: context)
        case .serve(let stream, let source, let firstBlock, let end, let resume):
            self.queue.enqueue(stream) { pending in
                pending.source = source
                pending.nextBlock = firstBlock
                pending.finalMessage = end
                pending.resume = resume.map { (firstBlock, $0) }
            }
            self.pumpBulk(context: context)
        case .consumed(let stream, let count):
            for frame in self.machine.consumed(count, on: stream) { self.writeControl(frame, context: context) }
        case .reset(let stream, let code):
            self.queue.remove(stream)
            if let frame = self.machine.reset(stream, code: code) { self.writeControl(frame, context: context) }
        case .ping:
            if let frame = self.machine.ping(now: .now()) { self.writeControl(frame, context: context) }
        case .goAway(let code, let reason):
            if let frame = self.machine.goAway(code: code, reason: reason) { self.writeControl(frame, context: context) }
            if code != .noError { self.closeNow(context: context) }
        }
    }

    public func flush(context: ChannelHandlerContext) {
        context.flush()
    }

    private func writeControl(_ frame: Frame, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: WireLimits.frameHeaderSize + 64)
        frame.write(to: &buffer)
        context.write(self.wrapOutboundOut(buffer), promise: nil)
    }

    /// A bulk frame ready to write: DATA as the payload pieces it spans, or a stream's final message.
    private enum BulkFrame {
        case data(StreamID, pieces: [ByteBuffer], length: Int, endStream: Bool)
        case frame(Frame)
    }

    /// Writes the next bulk frame if none is in flight (PROTOCOL.md §6.3), taking
    /// streams in turn so one large transfer cannot starve another.
    private func pumpBulk(context: ChannelHandlerContext) {
        // A write the socket takes at once completes inside `write`: rather than recurse
        // (or pay a loop turn per frame), the loop below goes on to the next frame.
        guard !self.pumping else { return }
        self.pumping = true
        defer { self.pumping = false }
        while !self.bulkFrameInFlight, !self.isClosed, context.channel.isActive, self.writeNextBulkFrame(context: context) {}
        self.closeIfDoneAfterPeerGoAway(context: context)
    }

    /// Writes one bulk frame, taking streams in turn; false when none can go now.
    private func writeNextBulkFrame(context: ChannelHandlerContext) -> Bool {
        for stream in self.queue.rotation() {
            do {
                guard let frame = try self.nextBulkFrame(stream, context: context) else { continue }
                self.queue.served(stream)
                self.bulkFrameInFlight = true
                let promise = context.eventLoop.makePromise(of: Void.self)
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                promise.futureResult.whenComplete { _ in
                    let (handler, context) = loopBound.value
                    handler.bulkFrameInFlight = false
                    // Completed later (the socket was full): pump again. Completed during
                    // the write: the pump's loop continues by itself.
                    if !handler.pumping { handler.pumpBulk(context: context) }
                }
                self.write(frame, context: context, promise: promise)
                return true
            } catch {
                self.failStream(stream, error, context: context)
            }
        }
        return false
    }

    private func write(_ bulk: BulkFrame, context: ChannelHandlerContext, promise: EventLoopPromise<Void>) {
        switch bulk {
        case .frame(let frame):
            var buffer = context.channel.allocator.buffer(capacity: WireLimits.frameHeaderSize + 64)
            frame.write(to: &buffer)
            context.writeAndFlush(self.wrapOutboundOut(buffer), promise: promise)
        case .data(let stream, let pieces, let length, let endStream):
            // The header, then the payload as slices of the block buffers: no copy of
            // bulk bytes. Each write becomes its own TLS record(s), so the header costs a
            // 9-byte record per frame; cheaper than copying the frame (BENCHMARKS.md).
            var buffer = context.channel.allocator.buffer(capacity: WireLimits.frameHeaderSize)
            Frame.writeHeader(kind: .data, flags: endStream ? .endStream : [], streamID: stream, length: length, to: &buffer)
            context.write(self.wrapOutboundOut(buffer), promise: nil)
            for piece in pieces.dropLast() { context.write(self.wrapOutboundOut(piece), promise: nil) }
            context.writeAndFlush(self.wrapOutboundOut(pieces.last ?? ByteBuffer()), promise: promise)
        }
    }

    /// Asks the stream's source for its next block, if it is time to (one ahead).
    /// The block arrives later on this event loop; until then the stream waits and
    /// every other stream and control frame goes on.
    private func fetchBlock(_ id: StreamID, context: ChannelHandlerContext) {
        guard let (source, index) = self.queue.modify(id, { $0.nextFetch(blockSize: WireLimits.maxBlockSize) }) ?? nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        source.block(at: index, on: context.eventLoop).whenComplete { result in
            // Always a fresh turn of the loop: a block that was ready at once must not
            // re-enter the pump that asked for it.
            context.eventLoop.execute {
                let (handler, context) = loopBound.value
                handler.blockArrived(id, result, context: context)
            }
        }
    }

    private func blockArrived(_ id: StreamID, _ result: Result<EncodedBlock, any Error>, context: ChannelHandlerContext) {
        switch result {
        case .success(let block):
            // Nil when the stream was reset meanwhile: the block is dropped.
            self.queue.modify(id) { pending in
                pending.fetching = false
                if let (index, resume) = pending.resume, index == UInt64(block.index) {
                    pending.resume = nil
                    if let (header, rest) = block.continuation(for: resume) {
                        pending.append(header)
                        pending.append(rest)
                        return
                    }
                }
                var header = context.channel.allocator.buffer(capacity: WireLimits.blockHeaderSize)
                block.writeHeader(to: &header)
                pending.append(header)
                pending.append(block.bytes)
            }
        case .failure(let error):
            guard self.queue.streams[id] != nil else { return }
            self.failStream(id, error, context: context)
            // Outside a read or a write from the application, nothing else flushes the RESET.
            context.flush()
        }
        self.pumpBulk(context: context)
    }

    private func failStream(_ stream: StreamID, _ error: any Error, context: ChannelHandlerContext) {
        let code = (error as? WireError)?.code ?? .internalError
        self.logger.warning("stream failed while sending", metadata: ["stream": "\(stream)", "error": "\(error)"])
        self.queue.remove(stream)
        if let frame = self.machine.reset(stream, code: code.isConnectionError ? .internalError : code) {
            self.writeControl(frame, context: context)
        }
        context.fireChannelRead(self.wrapInboundOut(.streamReset(stream, code)))
    }

    /// The next frame stream `id` may send now, or nil when it is blocked or empty.
    private func nextBulkFrame(_ id: StreamID, context: ChannelHandlerContext) throws -> BulkFrame? {
        self.fetchBlock(id, context: context)
        let outcome: (BulkFrame?, drained: Bool)? = try self.queue.modify(id) { pending in
            if pending.byteCount == 0, let source = pending.source {
                // Waiting for a block, or done with the source.
                guard !pending.fetching, pending.nextBlock >= source.blockCount else { return (nil, false) }
                pending.source = nil
            }
            if pending.byteCount > 0 {
                let allowed = self.machine.sendableBytes(on: id)
                guard allowed > 0 else { return (nil, false) }
                let length = min(allowed, pending.byteCount)
                let last = pending.endStreamAfterBytes && length == pending.byteCount
                    && pending.source == nil && pending.finalMessage == nil
                try self.machine.sendData(length: length, on: id, endStream: last)
                let pieces = pending.take(length)
                if last { pending.endStreamAfterBytes = false }
                return (.data(id, pieces: pieces, length: length, endStream: last), pending.isEmpty)
            }
            if let message = pending.finalMessage {
                pending.finalMessage = nil
                pending.endStreamAfterBytes = false
                return (.frame(try self.machine.send(message, on: id, endStream: true)), true)
            }
            if pending.endStreamAfterBytes {
                pending.endStreamAfterBytes = false
                return (.frame(try self.machine.sendData(ByteBuffer(), on: id, endStream: true)), true)
            }
            return (nil, pending.isEmpty)
        }
        guard let (frame, drained) = outcome else { return nil }
        if drained {
            self.queue.remove(id)
            context.fireChannelRead(self.wrapInboundOut(.streamDrained(id)))
        }
        return frame
    }
}

@available(*, unavailable)
extension WireConnectionHandler: Sendable {}
