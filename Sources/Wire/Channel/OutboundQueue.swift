import NIOCore

/// Stream output waiting for flow-control credit, in the order it must go out.
///
/// Control frames never enter this queue: the handler writes them at once, so they
/// wait behind at most the one bulk frame in flight (PROTOCOL.md §6.3).
struct OutboundQueue {
    /// One stream's pending output.
    struct Pending {
        /// Bytes not yet framed, as the pieces they arrived in (block headers and
        /// block bytes stay separate buffers, so nothing is copied to frame them).
        private(set) var pieces: [ByteBuffer] = []
        private var firstPiece = 0
        private(set) var byteCount = 0
        var endStreamAfterBytes = false
        /// Blocks still to come from a transfer source.
        var source: (any TransferSource)?
        var nextBlock: UInt64 = 0
        /// A block is being made for this stream (off the event loop).
        var fetching = false
        /// Sent with END_STREAM after everything else.
        var finalMessage: Message?
        /// How the first block goes when the receiver holds its start (PROTOCOL.md §7.5).
        var resume: (index: UInt64, BlockResume)?

        var isEmpty: Bool {
            self.byteCount == 0 && !self.endStreamAfterBytes && self.source == nil && self.finalMessage == nil
        }

        /// The next block to ask the source for, if one should be asked for now: one
        /// block ahead of what waits to be framed, one request at a time.
        mutating func nextFetch(blockSize: Int) -> (any TransferSource, UInt64)? {
            guard !self.fetching, let source = self.source, self.nextBlock < source.blockCount, self.byteCount <= blockSize else { return nil }
            self.fetching = true
            self.nextBlock += 1
            return (source, self.nextBlock - 1)
        }

        mutating func append(_ piece: ByteBuffer) {
            guard piece.readableBytes > 0 else { return }
            self.pieces.append(piece)
            self.byteCount += piece.readableBytes
        }

        /// Removes and returns the first `count` bytes, as slices of the pieces.
        mutating func take(_ count: Int) -> [ByteBuffer] {
            precondition(count <= self.byteCount)
            var taken: [ByteBuffer] = []
            var remaining = count
            while remaining > 0 {
                let available = self.pieces[self.firstPiece].readableBytes
                if available <= remaining {
                    taken.append(self.pieces[self.firstPiece])
                    self.pieces[self.firstPiece] = ByteBuffer()
                    self.firstPiece += 1
                    remaining -= available
                } else {
                    taken.append(self.pieces[self.firstPiece].readSlice(length: remaining)!)
                    remaining = 0
                }
            }
            self.byteCount -= count
            if self.firstPiece == self.pieces.count {
                self.pieces.removeAll(keepingCapacity: true)
                self.firstPiece = 0
            }
            return taken
        }
    }

    private(set) var streams: [StreamID: Pending] = [:]
    /// Round-robin order of streams with pending output.
    private var order: [StreamID] = []
    private var cursor = 0

    var isEmpty: Bool { self.streams.isEmpty }

    mutating func enqueue(_ stream: StreamID, _ update: (inout Pending) -> Void) {
        if self.streams[stream] == nil { self.order.append(stream) }
        update(&self.streams[stream, default: Pending()])
    }

    mutating func remove(_ stream: StreamID) {
        guard self.streams.removeValue(forKey: stream) != nil else { return }
        self.order.removeAll { $0 == stream }
        if self.cursor >= self.order.count { self.cursor = 0 }
    }

    /// The streams with pending output, starting after the last one served.
    func rotation() -> [StreamID] {
        guard !self.order.isEmpty else { return [] }
        let start = self.cursor % self.order.count
        return Array(self.order[start...] + self.order[..<start])
    }

    mutating func served(_ stream: StreamID) {
        if let position = self.order.firstIndex(of: stream) {
            self.cursor = position + 1
        }
    }

    mutating func modify<R>(_ stream: StreamID, _ body: (inout Pending) throws -> R) rethrows -> R? {
        guard self.streams[stream] != nil else { return nil }
        return try body(&self.streams[stream]!)
    }
}
