import NIOCore

extension SessionStateMachine {
    /// Allocates the next stream id we may open, or nil when the peer sent GOAWAY
    /// or its concurrent-stream limit is reached (PROTOCOL.md §6.1).
    public func nextStreamID() -> StreamID? {
        guard case .established(let established) = self.state, established.goAwayReceived == nil else { return nil }
        let opened = established.streams.values.lazy.filter { !$0.openedByPeer }.count
        guard opened < established.negotiated.peerMaxStreams else { return nil }
        if established.lastLocalStreamID == 0 {
            return self.role == .client ? 1 : 2
        }
        let next = established.lastLocalStreamID + 2
        return next <= 0x7FFF_FFFF ? next : nil
    }

    /// Validates and accounts a message we send. Opening a stream happens here: send
    /// on the id `nextStreamID` returned. Throws for a closed connection or stream.
    public mutating func send(_ message: Message, on id: StreamID, endStream: Bool = false) throws(WireError) -> Frame {
        guard case .established(var established) = self.state else {
            throw WireError(.internalError, "send before the handshake or after close")
        }
        defer { self.state = .established(established) }
        let frame = Frame(streamID: id, payload: .message(message), flags: endStream ? .endStream : [])
        if id == 0 {
            guard !endStream else { throw WireError(.internalError, "END_STREAM on stream 0") }
            return frame
        }
        if id > established.lastLocalStreamID, !established.isPeerParity(id, role: self.role) {
            guard message.opensStream else { throw WireError(.internalError, "\(message.typeNumber) cannot open a stream") }
            established.lastLocalStreamID = id
            var stream = StreamState(
                outboundWindow: established.initialOutboundStreamWindow,
                inboundWindow: established.initialInboundStreamWindow,
                openedByPeer: false
            )
            if endStream { stream.localOpen = false }
            established.streams[id] = stream
            return frame
        }
        guard var stream = established.streams[id], stream.localOpen else {
            throw WireError(.streamClosed, "stream \(id) is closed for sending")
        }
        if endStream { stream.localOpen = false }
        established.store(stream, id)
        return frame
    }

    /// DATA bytes that may go on `id` now: the smaller window, capped at the peer's frame size.
    public func sendableBytes(on id: StreamID) -> Int {
        guard case .established(let established) = self.state, let stream = established.streams[id], stream.localOpen else { return 0 }
        return max(0, min(established.outboundConnectionWindow, stream.outboundWindow, established.negotiated.peerMaxFrameSize))
    }

    /// Accounts a DATA frame we send; `bytes` must not exceed `sendableBytes(on:)`.
    public mutating func sendData(_ bytes: ByteBuffer, on id: StreamID, endStream: Bool = false) throws(WireError) -> Frame {
        let length = bytes.readableBytes
        guard length <= self.sendableBytes(on: id) || (length == 0 && endStream) else {
            throw WireError(.internalError, "DATA of \(length) bytes exceeds the window on stream \(id)")
        }
        guard case .established(var established) = self.state, var stream = established.streams[id], stream.localOpen else {
            throw WireError(.streamClosed, "stream \(id) is closed for sending")
        }
        established.outboundConnectionWindow -= length
        stream.outboundWindow -= length
        if endStream { stream.localOpen = false }
        established.store(stream, id)
        self.state = .established(established)
        return Frame(streamID: id, payload: .data(bytes), flags: endStream ? .endStream : [])
    }

    /// Ends a stream at once; returns the RESET to write, or nil when it was already gone.
    public mutating func reset(_ id: StreamID, code: WireErrorCode) -> Frame? {
        guard case .established(var established) = self.state, established.streams.removeValue(forKey: id) != nil else { return nil }
        self.state = .established(established)
        return Frame(streamID: id, payload: .reset(code))
    }

    /// The application processed `count` bytes of DATA from stream `id`: return credit
    /// once half a window has been used, so the peer is never stalled nor flooded with updates.
    public mutating func consumed(_ count: Int, on id: StreamID) -> [Frame] {
        guard case .established(var established) = self.state, count > 0 else { return [] }
        var frames: [Frame] = []
        established.connectionUnacknowledged += count
        if established.connectionUnacknowledged >= self.configuration.connectionWindow / 2 {
            frames.append(Frame(streamID: 0, payload: .windowUpdate(increment: UInt32(established.connectionUnacknowledged))))
            established.inboundConnectionWindow += established.connectionUnacknowledged
            established.connectionUnacknowledged = 0
        }
        if var stream = established.streams[id], stream.remoteOpen {
            stream.unacknowledged += count
            if stream.unacknowledged >= self.configuration.streamWindow / 2 {
                frames.append(Frame(streamID: id, payload: .windowUpdate(increment: UInt32(stream.unacknowledged))))
                stream.inboundWindow += stream.unacknowledged
                stream.unacknowledged = 0
            }
            established.streams[id] = stream
        }
        self.state = .established(established)
        return frames
    }

    /// Starts a graceful (or not) shutdown: returns the GOAWAY to write. Peer streams
    /// above the last one it opened are refused from now on (PROTOCOL.md §5.6).
    public mutating func goAway(code: WireErrorCode = .noError, reason: String) -> Frame? {
        switch self.state {
        case .established(var established):
            established.goAwaySent = established.lastRemoteStreamID
            self.state = .established(established)
            return Frame(streamID: 0, payload: .goAway(GoAway(lastStreamID: established.lastRemoteStreamID, code: code, reason: reason)))
        case .awaitingHello, .awaitingWelcome:
            self.state = .closed
            return Frame(streamID: 0, payload: .goAway(GoAway(lastStreamID: 0, code: code, reason: reason)))
        case .idle, .closed:
            return nil
        }
    }
}
