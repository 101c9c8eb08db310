import NIOCore

/// The sending side of streams (PROTOCOL.md §6.3) as a value: output queued per
/// stream waits for flow-control credit and goes out one bulk frame at a time,
/// streams taken in turn so one large transfer cannot starve another, blocks of a
/// transfer source asked for one ahead of what is being framed.
///
/// It takes events (output queued, a block arrived, the frame in flight was
/// written) and returns actions (ask a source for a block, write a frame, tell the
/// application a stream drained or failed). It does no I/O: `WireConnectionHandler`
/// translates its actions into channel operations, in the shape of swift-nio-http2's
/// `OutboundFlowControlBuffer`. Control frames never pass through it; they wait
/// behind at most the one bulk frame in flight.
struct BulkScheduler {
    /// A bulk frame ready to write.
    enum BulkFrame {
        /// DATA as the payload pieces it spans (slices of the block buffers: no copy).
        case data(StreamID, pieces: [ByteBuffer], length: Int, endStream: Bool)
        /// A stream's final message.
        case frame(Frame)
    }

    enum Action {
        /// Ask `source` for block `index` (off the event loop); report the result with
        /// `blockArrived` or `blockFailed`.
        case fetch(StreamID, any TransferSource, index: UInt64)
        /// Write the frame; report `frameWritten()` once the transport has taken it.
        case write(BulkFrame)
        /// Everything queued on the stream has been handed out.
        case drained(StreamID)
        /// The stream failed while sending: write `reset` (if the stream was still
        /// open) and tell the application.
        case failed(StreamID, WireErrorCode, reason: any Error, reset: Frame?)
    }

    private var queue = OutboundQueue()
    /// A bulk frame has been written and the transport has not yet taken it.
    private(set) var frameInFlight = false

    /// Nothing queued and nothing in flight.
    var isIdle: Bool { self.queue.isEmpty && !self.frameInFlight }

    func isQueued(_ stream: StreamID) -> Bool { self.queue.streams[stream] != nil }

    // MARK: Events

    /// Stream bytes, after what is already queued on the stream.
    mutating func enqueue(_ bytes: ByteBuffer, on stream: StreamID, endStream: Bool) {
        self.queue.enqueue(stream) { pending in
            pending.append(bytes)
            pending.endStreamAfterBytes = pending.endStreamAfterBytes || endStream
        }
    }

    /// The stream's last message, after everything queued before it.
    mutating func enqueueFinal(_ message: Message, on stream: StreamID) {
        self.queue.enqueue(stream) { $0.finalMessage = message }
    }

    /// Blocks `firstBlock..<source.blockCount`, then `end` with END_STREAM. With
    /// `resume`, the first block goes as a continuation when it encodes as the
    /// receiver's copy did (PROTOCOL.md §7.5).
    mutating func serve(_ source: any TransferSource, on stream: StreamID, firstBlock: UInt64, end: Message, resume: BlockResume?) {
        self.queue.enqueue(stream) { pending in
            pending.source = source
            pending.nextBlock = firstBlock
            pending.finalMessage = end
            pending.resume = resume.map { (firstBlock, $0) }
        }
    }

    /// The stream is gone (reset by either side): its output is dropped; a block
    /// still being made for it is dropped when it arrives.
    mutating func remove(_ stream: StreamID) {
        self.queue.remove(stream)
    }

    /// The transport took the frame in flight.
    mutating func frameWritten() {
        self.frameInFlight = false
    }

    /// A block asked for with `.fetch` is ready.
    mutating func blockArrived(_ block: EncodedBlock, on stream: StreamID) {
        self.queue.modify(stream) { pending in
            pending.fetching = false
            if let (index, resume) = pending.resume, index == UInt64(block.index) {
                pending.resume = nil
                if let (header, rest) = block.continuation(for: resume) {
                    pending.append(header)
                    pending.append(rest)
                    return
                }
            }
            var header = ByteBufferAllocator().buffer(capacity: WireLimits.blockHeaderSize)
            block.writeHeader(to: &header)
            pending.append(header)
            pending.append(block.bytes)
        }
    }

    /// A block asked for with `.fetch` could not be made: the stream fails (nil when
    /// it was already gone).
    mutating func blockFailed(_ error: any Error, on stream: StreamID, machine: inout SessionStateMachine) -> Action? {
        guard self.isQueued(stream) else { return nil }
        return self.fail(stream, error, machine: &machine)
    }

    // MARK: Actions

    /// What to do now: blocks to ask for, then at most one frame to write (always
    /// last). Empty while a frame is in flight or nothing can go.
    mutating func next(_ machine: inout SessionStateMachine) -> [Action] {
        guard !self.frameInFlight else { return [] }
        var actions: [Action] = []
        for stream in self.queue.rotation() {
            if let (source, index) = self.queue.modify(stream, { $0.nextFetch(blockSize: WireLimits.maxBlockSize) }) ?? nil {
                actions.append(.fetch(stream, source, index: index))
            }
            do {
                let (frame, drained) = try self.nextFrame(stream, machine: &machine)
                if drained {
                    self.queue.remove(stream)
                    actions.append(.drained(stream))
                }
                guard let frame else { continue }
                self.queue.served(stream)
                self.frameInFlight = true
                actions.append(.write(frame))
                return actions
            } catch {
                actions.append(self.fail(stream, error, machine: &machine))
            }
        }
        return actions
    }

    private mutating func fail(_ stream: StreamID, _ error: any Error, machine: inout SessionStateMachine) -> Action {
        let code = (error as? WireError)?.code ?? .internalError
        self.queue.remove(stream)
        let reset = machine.reset(stream, code: code.isConnectionError ? .internalError : code)
        return .failed(stream, code, reason: error, reset: reset)
    }

    /// The next frame `stream` may send now (nil when it is blocked or empty), and
    /// whether the stream has nothing left after it.
    private mutating func nextFrame(_ id: StreamID, machine: inout SessionStateMachine) throws -> (BulkFrame?, drained: Bool) {
        try self.queue.modify(id) { pending -> (BulkFrame?, drained: Bool) in
            if pending.byteCount == 0, let source = pending.source {
                // Waiting for a block, or done with the source.
                guard !pending.fetching, pending.nextBlock >= source.blockCount else { return (nil, false) }
                pending.source = nil
            }
            if pending.byteCount > 0 {
                let allowed = machine.sendableBytes(on: id)
                guard allowed > 0 else { return (nil, false) }
                let length = min(allowed, pending.byteCount)
                let last = pending.endStreamAfterBytes && length == pending.byteCount
                    && pending.source == nil && pending.finalMessage == nil
                try machine.sendData(length: length, on: id, endStream: last)
                let pieces = pending.take(length)
                if last { pending.endStreamAfterBytes = false }
                return (.data(id, pieces: pieces, length: length, endStream: last), pending.isEmpty)
            }
            if let message = pending.finalMessage {
                pending.finalMessage = nil
                pending.endStreamAfterBytes = false
                return (.frame(try machine.send(message, on: id, endStream: true)), true)
            }
            if pending.endStreamAfterBytes {
                pending.endStreamAfterBytes = false
                return (.frame(try machine.sendData(ByteBuffer(), on: id, endStream: true)), true)
            }
            return (nil, pending.isEmpty)
        } ?? (nil, false)
    }
}
