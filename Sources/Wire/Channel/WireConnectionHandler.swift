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
    private var bulk = BulkScheduler()
    /// Inside `pumpBulk`: a write completion then only clears the frame in flight.
    private var pumping = false
    /// One timer, armed for the state machine's next deadline.
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
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
        self.disarmTimer()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.disarmTimer()
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
        self.armTimer(context: context)
    }

    /// Arms the timer for the state machine's next deadline, unless it is armed for
    /// that time or earlier already (receiving only moves the deadline later: a timer
    /// that fires early ticks for nothing and is armed again).
    private func armTimer(context: ChannelHandlerContext) {
        guard let next = self.machine.nextDeadline else {
            self.disarmTimer()
            return
        }
        if let armed = self.timerDeadline, armed <= next { return }
        self.timer?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.timerDeadline = next
        self.timer = context.eventLoop.scheduleTask(deadline: next) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            handler.timerDeadline = nil
            handler.tick(context: context)
            handler.armTimer(context: context)
        }
    }

    private func disarmTimer() {
        self.timer?.cancel()
        self.timer = nil
        self.timerDeadline = nil
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
        self.inRead = true
        self.parser.append(bytes: &bytes)
        do {
            while !self.isClosed, let frame = try self.parser.nextFrame() {
                self.handle(self.machine.received(frame, now: .now()), context: context)
                self.parser.maxFrameSize = self.machine.inboundMaxFrameSize
            }
        } catch let error as WireError {
            self.handle(self.machine.fail(error), context: context)
        } catch {
            self.handle(self.machine.fail(.internal(error)), context: context)
        }
        self.closeIfDoneAfterPeerGoAway(context: context)
        if !self.isClosed { self.armTimer(context: context) }
    }

    /// PROTOCOL.md §5.6: after the peer's GOAWAY(NO_ERROR), the open streams finish
    /// and then the connection closes; it is not left open with nothing to do.
    private func closeIfDoneAfterPeerGoAway(context: ChannelHandlerContext) {
        guard !self.isClosed, self.machine.isDoneAfterPeerGoAway, self.bulk.isIdle else { return }
        self.closeNow(context: context)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        // The application may answer the burst it just read (credit, replies): flush after it.
        self.inRead = false
        self.undelivered = false
        context.fireChannelReadComplete()
        context.flush()
    }

    /// Inside a read burst from the transport: its channelReadComplete delivers the events.
    private var inRead = false
    /// Events passed on outside a read burst and not yet followed by channelReadComplete.
    private var undelivered = false

    private func deliver(context: ChannelHandlerContext, _ event: WireEvent) {
        context.fireChannelRead(self.wrapInboundOut(event))
        if !self.inRead { self.undelivered = true }
    }

    /// Events passed on outside a read (a stream opened by a write, a stream drained
    /// when the transport took its last frame, a block that failed) reach an
    /// `NIOAsyncChannel` only with a channelReadComplete: send one now.
    private func completeDelivery(context: ChannelHandlerContext) {
        guard self.undelivered else { return }
        self.undelivered = false
        context.fireChannelReadComplete()
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
            self.armTimer(context: context)
            self.deliver(context: context, .established(negotiated))
        case .message(let stream, let message, let endStream):
            self.deliver(context: context, .message(stream, message, endStream: endStream))
        case .data(let stream, let bytes, let endStream):
            self.deliver(context: context, .data(stream, bytes, endStream: endStream))
        case .windowOpened:
            self.pumpBulk(context: context)
        case .streamReset(let stream, let code):
            self.bulk.remove(stream)
            self.deliver(context: context, .streamReset(stream, code))
        case .goAway(let goAway):
            self.deliver(context: context, .goAway(goAway))
            if goAway.code != .noError || !self.machine.isEstablished {
                self.closeNow(context: context)
            }
        case .pong(let roundTrip):
            self.deliver(context: context, .roundTrip(roundTrip))
        case .resetStream(let stream, let error, let frame, let credit):
            self.logger.debug("stream error", metadata: ["stream": "\(stream)", "error": "\(error)"])
            self.bulk.remove(stream)
            self.writeControl(frame, context: context)
            if let credit { self.writeControl(credit, context: context) }
            self.deliver(context: context, .streamReset(stream, error.code))
        case .closeConnection(let error, let goAway):
            self.logger.warning("connection error", metadata: ["error": "\(error)"])
            if let goAway { self.writeControl(goAway, context: context) }
            self.closeNow(context: context)
        }
    }

    private func closeNow(context: ChannelHandlerContext) {
        guard !self.isClosed else { return }
        self.isClosed = true
        self.disarmTimer()
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
        self.completeDelivery(context: context)
    }

    private func perform(_ command: WireCommand, context: ChannelHandlerContext) throws {
        switch command {
        case .message(let message, let stream, true) where self.bulk.isQueued(stream):
            // A stream's last message goes after the data queued before it.
            self.bulk.enqueueFinal(message, on: stream)
            self.pumpBulk(context: context)
        case .message(let message, let stream, let endStream):
            self.writeControl(try self.machine.send(message, on: stream, endStream: endStream), context: context)
        case .openStream(let message):
            guard let id = self.machine.nextStreamID() else {
                self.deliver(context: context, .streamRefused(message))
                return
            }
            self.writeControl(try self.machine.send(message, on: id, endStream: true), context: context)
            self.deliver(context: context, .streamOpened(id, message))
        case .data(let stream, _, _) where !self.machine.isOpenForSending(stream),
             .serve(let stream, _, _, _, _) where !self.machine.isOpenForSending(stream):
            // PROTOCOL.md §6.1: nothing more goes out on a stream after RESET (ours or the
            // peer's). The application learnt of the reset from `.streamReset`.
            self.logger.debug("dropping output for a closed stream", metadata: ["stream": "\(stream)"])
        case .data(let stream, let bytes, let endStream):
            self.bulk.enqueue(bytes, on: stream, endStream: endStream)
            self.pumpBulk(context: context)
        case .serve(let stream, let source, let firstBlock, let end, let resume):
            self.bulk.serve(source, on: stream, firstBlock: firstBlock, end: end, resume: resume)
            self.pumpBulk(context: context)
        case .consumed(let stream, let count):
            for frame in self.machine.consumed(count, on: stream) { self.writeControl(frame, context: context) }
        case .reset(let stream, let code):
            self.bulk.remove(stream)
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

    /// Runs the bulk scheduler's actions until it has a frame in flight or nothing
    /// can go. A write the socket takes at once completes inside `write`: rather than
    /// recurse (or pay a loop turn per frame), the loop goes on to the next frame.
    private func pumpBulk(context: ChannelHandlerContext) {
        guard !self.pumping else { return }
        self.pumping = true
        defer { self.pumping = false }
        while !self.isClosed, context.channel.isActive {
            var wrote = false
            for action in self.bulk.next(&self.machine) {
                if case .write = action { wrote = true }
                self.perform(action, context: context)
            }
            guard wrote, !self.bulk.frameInFlight else { break }
        }
        self.closeIfDoneAfterPeerGoAway(context: context)
    }

    private func perform(_ action: BulkScheduler.Action, context: ChannelHandlerContext) {
        switch action {
        case .fetch(let stream, let source, let index):
            self.fetch(index, of: source, for: stream, context: context)
        case .write(let frame):
            let promise = context.eventLoop.makePromise(of: Void.self)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            promise.futureResult.whenComplete { _ in
                let (handler, context) = loopBound.value
                handler.bulk.frameWritten()
                // Completed later (the socket was full): pump again. Completed during
                // the write: the pump's loop continues by itself.
                if !handler.pumping {
                    handler.pumpBulk(context: context)
                    handler.completeDelivery(context: context)
                }
            }
            self.write(frame, context: context, promise: promise)
        case .drained(let stream):
            self.deliver(context: context, .streamDrained(stream))
        case .failed(let stream, let code, let reason, let reset):
            self.logger.warning("stream failed while sending", metadata: ["stream": "\(stream)", "error": "\(reason)"])
            if let reset { self.writeControl(reset, context: context) }
            self.deliver(context: context, .streamReset(stream, code))
        }
    }

    private func write(_ bulk: BulkScheduler.BulkFrame, context: ChannelHandlerContext, promise: EventLoopPromise<Void>) {
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

    /// Asks the source for a block. It arrives later on this event loop; until then
    /// the stream waits and every other stream and control frame goes on.
    private func fetch(_ index: UInt64, of source: any TransferSource, for stream: StreamID, context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        source.block(at: index, on: eventLoop).whenComplete { result in
            // Always a fresh turn of the loop: a block that was ready at once must not
            // re-enter the pump that asked for it.
            eventLoop.execute {
                let (handler, context) = loopBound.value
                handler.blockArrived(stream, result, context: context)
            }
        }
    }

    private func blockArrived(_ stream: StreamID, _ result: Result<EncodedBlock, any Error>, context: ChannelHandlerContext) {
        switch result {
        case .success(let block):
            self.bulk.blockArrived(block, on: stream)
        case .failure(let error):
            guard let action = self.bulk.blockFailed(error, on: stream, machine: &self.machine) else { return }
            self.perform(action, context: context)
            // Outside a read or a write from the application, nothing else flushes the RESET.
            context.flush()
        }
        self.pumpBulk(context: context)
        self.completeDelivery(context: context)
    }
}

@available(*, unavailable)
extension WireConnectionHandler: Sendable {}
