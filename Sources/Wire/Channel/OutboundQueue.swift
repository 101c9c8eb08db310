import NIOCore

/// Stream output waiting for flow-control credit, in the order it must go out.
///
/// Control frames never enter this queue: the handler writes them at once, so they
/// wait behind at most the one bulk frame in flight (PROTOCOL.md §6.3).
struct OutboundQueue {
    /// One stream's pending output.
    struct Pending {
        /// Bytes of the current block or `.data` command not yet framed.
        var bytes: ByteBuffer = ByteBuffer()
        var endStreamAfterBytes = false
        /// Blocks still to come from a transfer source.
        var source: (any TransferSource)?
        var nextBlock: UInt64 = 0
        /// Sent with END_STREAM after everything else.
        var finalMessage: Message?

        var isEmpty: Bool {
            self.bytes.readableBytes == 0 && !self.endStreamAfterBytes && self.source == nil && self.finalMessage == nil
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
