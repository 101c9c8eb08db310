import NIOCore

extension SessionStateMachine {
    /// What to do about a frame that arrived.
    public enum ReceiveAction {
        /// Nothing: the frame was absorbed (for example an unknown message on stream 0).
        case none
        /// Write this frame (a PING acknowledgement).
        case write(Frame)
        /// The handshake completed; a server writes `reply` (WELCOME).
        case established(Negotiated, reply: Frame?)
        /// A message for the application, on stream 0 or a transfer stream.
        case message(StreamID, Message, endStream: Bool)
        /// Stream bytes for the application. It must call `consumed` once it has processed them.
        case data(StreamID, ByteBuffer, endStream: Bool)
        /// The peer granted credit; blocked DATA on `stream` (nil: any stream) may go now.
        case windowOpened(StreamID?)
        /// The peer reset a stream.
        case streamReset(StreamID, WireErrorCode)
        /// The peer is going away. With `noError`, finish open streams and close; otherwise close now.
        case goAway(GoAway)
        /// A PING we sent was answered.
        case pong(roundTrip: TimeAmount)
        /// A stream error: write the RESET (and, for DATA that arrived on a closed
        /// stream, the connection credit it returns) and tell the application the stream failed.
        case resetStream(StreamID, WireError, Frame, credit: Frame? = nil)
        /// A connection error: write the GOAWAY, if any, then close.
        case closeConnection(WireError, Frame?)
    }

    /// A frame was received from the peer.
    public mutating func received(_ frame: Frame, now: NIODeadline) -> ReceiveAction {
        switch self.state {
        case .idle, .closed:
            return .none
        case .awaitingHello, .awaitingWelcome:
            return self.receivedDuringHandshake(frame, now: now)
        case .established:
            self.withEstablished { $0.lastReceived = now }
        }
        switch frame.payload {
        case .data(let bytes):
            return self.receivedData(bytes, on: frame.streamID, endStream: frame.flags.contains(.endStream))
        case .message(let message):
            return self.receivedMessage(message, on: frame.streamID, endStream: frame.flags.contains(.endStream))
        case .windowUpdate(let increment):
            return self.receivedWindowUpdate(increment, on: frame.streamID)
        case .ping(let payload):
            return self.receivedPing(payload, ack: frame.flags.contains(.ack), now: now)
        case .goAway(let goAway):
            return self.modifyEstablished { established in
                established.goAwayReceived = goAway
                return .goAway(goAway)
            }
        case .reset(let code):
            return self.receivedReset(code, on: frame.streamID)
        }
    }

    private mutating func receivedData(_ bytes: ByteBuffer, on id: StreamID, endStream: Bool) -> ReceiveAction {
        let length = bytes.readableBytes
        let role = self.role
        let connectionWindow = self.configuration.connectionWindow
        return self.modifyEstablished { established in
            if let failure = established.checkNotIdle(id, role: role) { return failure }
            // PROTOCOL.md §6.2: DATA counts against the connection window even on a closed stream.
            guard length <= established.inboundConnectionWindow else {
                return .closeConnection(WireError(.flowControlError, "DATA of \(length) bytes exceeds the connection window of \(established.inboundConnectionWindow)"), nil)
            }
            established.inboundConnectionWindow -= length
            guard var stream = established.streams[id], stream.remoteOpen else {
                // PROTOCOL.md §6.2: bytes for a closed stream are returned to the connection
                // window at once (they will never be consumed), or the peer's window drains.
                let credit = established.returnConnectionCredit(length, window: connectionWindow)
                // After our RESET the stream is closed both ways: nothing more goes out on it.
                established.streams.removeValue(forKey: id)
                return .resetStream(id, WireError(.streamClosed, "DATA on closed stream \(id)"), Frame(streamID: id, payload: .reset(.streamClosed)), credit: credit)
            }
            guard length <= stream.inboundWindow else {
                return .closeConnection(WireError(.flowControlError, "DATA of \(length) bytes exceeds the window of stream \(id) (\(stream.inboundWindow))"), nil)
            }
            stream.inboundWindow -= length
            if endStream { stream.remoteOpen = false }
            established.store(stream, id)
            return .data(id, bytes, endStream: endStream)
        }
    }

    private mutating func receivedMessage(_ message: Message, on id: StreamID, endStream: Bool) -> ReceiveAction {
        switch message {
        case .hello, .welcome:
            return self.fail(WireError(.protocolError, "handshake message after the handshake"))
        default:
            break
        }
        let role = self.role
        let maxStreams = self.configuration.maxStreams
        return self.modifyEstablished { established in
            if id == 0 {
                guard !endStream else {
                    return .closeConnection(WireError(.protocolError, "END_STREAM on stream 0"), nil)
                }
                // PROTOCOL.md §4.5: unknown messages on stream 0 are ignored.
                if case .unknown = message { return ExtendedAction.none }
                return .message(0, message, endStream: false)
            }
            if established.isPeerParity(id, role: role), id > established.lastRemoteStreamID {
                return established.peerOpens(id, with: message, endStream: endStream, maxStreams: maxStreams)
            }
            if let failure = established.checkNotIdle(id, role: role) { return failure }
            guard var stream = established.streams[id], stream.remoteOpen else {
                // After our RESET the stream is closed both ways: nothing more goes out on it.
                established.streams.removeValue(forKey: id)
                return .resetStream(id, WireError(.streamClosed, "MESSAGE on closed stream \(id)"), Frame(streamID: id, payload: .reset(.streamClosed)))
            }
            if endStream { stream.remoteOpen = false }
            established.store(stream, id)
            return .message(id, message, endStream: endStream)
        }
    }

    private mutating func receivedWindowUpdate(_ increment: UInt32, on id: StreamID) -> ReceiveAction {
        let role = self.role
        return self.modifyEstablished { established in
            if id == 0 {
                guard let window = Window.add(increment, to: established.outboundConnectionWindow) else {
                    return .closeConnection(WireError(.flowControlError, "connection window above 2^31-1"), nil)
                }
                established.outboundConnectionWindow = window
                return .windowOpened(nil)
            }
            if let failure = established.checkNotIdle(id, role: role) { return failure }
            // Credit for a stream that has closed is late, not wrong.
            guard var stream = established.streams[id] else { return ExtendedAction.none }
            guard let window = Window.add(increment, to: stream.outboundWindow) else {
                return .closeConnection(WireError(.flowControlError, "window of stream \(id) above 2^31-1"), nil)
            }
            stream.outboundWindow = window
            established.streams[id] = stream
            return .windowOpened(id)
        }
    }

    private mutating func receivedPing(_ payload: UInt64, ack: Bool, now: NIODeadline) -> ReceiveAction {
        guard ack else { return .write(Frame(streamID: 0, payload: .ping(payload), flags: .ack)) }
        return self.modifyEstablished { established in
            guard let outstanding = established.outstandingPing, outstanding.payload == payload else { return ExtendedAction.none }
            established.outstandingPing = nil
            return .pong(roundTrip: now - outstanding.sentAt)
        }
    }

    private mutating func receivedReset(_ code: WireErrorCode, on id: StreamID) -> ReceiveAction {
        let role = self.role
        return self.modifyEstablished { established in
            if let failure = established.checkNotIdle(id, role: role) { return failure }
            guard established.streams.removeValue(forKey: id) != nil else { return ExtendedAction.none }
            return .streamReset(id, code)
        }
    }

    /// Runs `body` on the established state and stores it back; a `closeConnection`
    /// result moves the machine to closed with a GOAWAY.
    mutating func modifyEstablished(_ body: (inout Established) -> ReceiveAction) -> ReceiveAction {
        guard let action = self.withEstablished(body) else { return .none }
        if case .closeConnection(let error, nil) = action {
            return self.fail(error)
        }
        return action
    }
}

/// Spelled-out `.none`, since `Optional.none` would otherwise win inside closures returning the action.
typealias ExtendedAction = SessionStateMachine.ReceiveAction

extension SessionStateMachine.Established {
    /// PROTOCOL.md §6.1: a frame on a stream id that was never opened is a connection error.
    func checkNotIdle(_ id: StreamID, role: SessionStateMachine.Role) -> SessionStateMachine.ReceiveAction? {
        let last = self.isPeerParity(id, role: role) ? self.lastRemoteStreamID : self.lastLocalStreamID
        guard id > last else { return nil }
        return .closeConnection(WireError(.streamNotOpen, "frame on stream \(id), which was never opened"), nil)
    }

    /// Counts `count` received bytes as done with and returns the connection
    /// WINDOW_UPDATE once half the window is outstanding (never one per frame).
    mutating func returnConnectionCredit(_ count: Int, window: Int) -> Frame? {
        self.connectionUnacknowledged += count
        guard self.connectionUnacknowledged >= window / 2 else { return nil }
        let frame = Frame(streamID: 0, payload: .windowUpdate(increment: UInt32(self.connectionUnacknowledged)))
        self.inboundConnectionWindow += self.connectionUnacknowledged
        self.connectionUnacknowledged = 0
        return frame
    }

    mutating func store(_ stream: StreamState, _ id: StreamID) {
        if stream.isClosed {
            self.streams.removeValue(forKey: id)
        } else {
            self.streams[id] = stream
        }
    }

    /// The peer opens stream `id` with `message` (PROTOCOL.md §6.1).
    mutating func peerOpens(_ id: StreamID, with message: Message, endStream: Bool, maxStreams: Int) -> SessionStateMachine.ReceiveAction {
        self.lastRemoteStreamID = id
        if case .unknown = message {
            // A newer peer's stream kind: refuse the stream, keep the connection.
            return .resetStream(id, WireError(.refusedStream, "unknown message opens stream \(id)"), Frame(streamID: id, payload: .reset(.refusedStream)))
        }
        guard message.opensStream else {
            return .closeConnection(WireError(.protocolError, "message type \(message.typeNumber) cannot open a stream"), nil)
        }
        if let goAway = self.goAwaySent, id > goAway {
            return .resetStream(id, WireError(.refusedStream, "stream \(id) opened after GOAWAY"), Frame(streamID: id, payload: .reset(.refusedStream)))
        }
        let peerOpened = self.streams.values.lazy.filter(\.openedByPeer).count
        guard peerOpened < maxStreams else {
            return .resetStream(id, WireError(.refusedStream, "more than \(maxStreams) concurrent streams"), Frame(streamID: id, payload: .reset(.refusedStream)))
        }
        // PROTOCOL.md §10.11: a request is all the opener says on its stream.
        guard endStream else {
            return .resetStream(id, WireError(.protocolError, "TRANSFER_REQUEST on stream \(id) without END_STREAM"), Frame(streamID: id, payload: .reset(.protocolError)))
        }
        var stream = StreamState(outboundWindow: self.initialOutboundStreamWindow, inboundWindow: self.initialInboundStreamWindow, openedByPeer: true)
        if endStream { stream.remoteOpen = false }
        self.streams[id] = stream
        return .message(id, message, endStream: endStream)
    }
}
