import NIOCore

extension SessionStateMachine {
    /// Runs `body` on the established state in place; nil when not established.
    /// The state is moved out while `body` runs so that the stream table is uniquely
    /// referenced and never copied on write: this runs once per frame.
    mutating func withEstablished<R, E: Error>(_ body: (inout Established) throws(E) -> R) throws(E) -> R? {
        guard case .established(var established) = self.state else { return nil }
        self.state = .idle
        defer { self.state = .established(established) }
        return try body(&established)
    }

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
        let role = self.role
        let frame = Frame(streamID: id, payload: .message(message), flags: endStream ? .endStream : [])
        let result: Frame? = try self.withEstablished { (established) throws(WireError) -> Frame in
            if id == 0 {
                guard !endStream else { throw WireError(.internalError, "END_STREAM on stream 0") }
                return frame
            }
            if id > established.lastLocalStreamID, !established.isPeerParity(id, role: role) {
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
        guard let result else { throw WireError(.internalError, "send before the handshake or after close") }
        return result
    }

    /// Whether we may still send on stream `id` (it is open and not ended or reset).
    public func isOpenForSending(_ id: StreamID) -> Bool {
        guard case .established(let established) = self.state, let stream = established.streams[id] else { return false }
        return stream.localOpen
    }

    /// DATA bytes that may go on `id` now: the smaller window, capped at the peer's frame size.
    public func sendableBytes(on id: StreamID) -> Int {
        guard case .established(let established) = self.state, let stream = established.streams[id], stream.localOpen else { return 0 }
        return max(0, min(established.outboundConnectionWindow, stream.outboundWindow, established.negotiated.peerMaxFrameSize))
    }

    /// Accounts `length` DATA bytes we send on `id`; `length` must not exceed
    /// `sendableBytes(on:)`. The caller writes the frame header and payload.
    public mutating func sendData(length: Int, on id: StreamID, endStream: Bool = false) throws(WireError) {
        guard length <= self.sendableBytes(on: id) || (length == 0 && endStream) else {
            throw WireError(.internalError, "DATA of \(length) bytes exceeds the window on stream \(id)")
        }
        let sent: Bool? = self.withEstablished { established in
            guard var stream = established.streams[id], stream.localOpen else { return false }
            established.outboundConnectionWindow -= length
            stream.outboundWindow -= length
            if endStream { stream.localOpen = false }
            established.store(stream, id)
            return true
        }
        guard sent == true else { throw WireError(.streamClosed, "stream \(id) is closed for sending") }
    }

    /// Accounts a DATA frame we send and returns it.
    public mutating func sendData(_ bytes: ByteBuffer, on id: StreamID, endStream: Bool = false) throws(WireError) -> Frame {
        try self.sendData(length: bytes.readableBytes, on: id, endStream: endStream)
        return Frame(streamID: id, payload: .data(bytes), flags: endStream ? .endStream : [])
    }

    /// Ends a stream at once; returns the RESET to write, or nil when it was already gone.
    public mutating func reset(_ id: StreamID, code: WireErrorCode) -> Frame? {
        let removed = self.withEstablished { $0.streams.removeValue(forKey: id) != nil }
        return removed == true ? Frame(streamID: id, payload: .reset(code)) : nil
    }

    /// The application processed `count` bytes of DATA from stream `id`: return credit
    /// once half a window has been used, so the peer is never stalled nor flooded with updates.
    public mutating func consumed(_ count: Int, on id: StreamID) -> [Frame] {
        guard count > 0 else { return [] }
        let connectionWindow = self.configuration.connectionWindow
        let streamWindow = self.configuration.streamWindow
        return self.withEstablished { established in
            var frames: [Frame] = []
            if let credit = established.returnConnectionCredit(count, window: connectionWindow) { frames.append(credit) }
            if var stream = established.streams[id], stream.remoteOpen {
                stream.unacknowledged += count
                if stream.unacknowledged >= streamWindow / 2 {
                    frames.append(Frame(streamID: id, payload: .windowUpdate(increment: UInt32(stream.unacknowledged))))
                    stream.inboundWindow += stream.unacknowledged
                    stream.unacknowledged = 0
                }
                established.streams[id] = stream
            }
            return frames
        } ?? []
    }

    /// Starts a graceful (or not) shutdown: returns the GOAWAY to write. Peer streams
    /// above the last one it opened are refused from now on (PROTOCOL.md §5.6).
    public mutating func goAway(code: WireErrorCode = .noError, reason: String) -> Frame? {
        switch self.state {
        case .established:
            let last: StreamID = self.withEstablished { established in
                established.goAwaySent = established.lastRemoteStreamID
                return established.lastRemoteStreamID
            } ?? 0
            return Frame(streamID: 0, payload: .goAway(GoAway(lastStreamID: last, code: code, reason: reason)))
        case .awaitingHello, .awaitingWelcome:
            self.state = .closed
            return Frame(streamID: 0, payload: .goAway(GoAway(lastStreamID: 0, code: code, reason: reason)))
        case .idle, .closed:
            return nil
        }
    }
}
