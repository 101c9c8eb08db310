import NIOCore

extension SessionStateMachine {
    /// What the passing of time asks for.
    public enum TickAction {
        case none
        /// Write this PING: nothing has been heard for a heartbeat interval.
        case write(Frame)
        /// Give up: handshake or idle timeout. Write the GOAWAY, then close.
        case closeConnection(WireError, Frame)
    }

    /// Called periodically (the handler uses a fraction of the heartbeat interval).
    /// PROTOCOL.md §5.5: a side that has heard nothing for one heartbeat interval sends
    /// PING; one that has heard nothing for the idle timeout closes with IDLE_TIMEOUT.
    public mutating func tick(now: NIODeadline) -> TickAction {
        switch self.state {
        case .idle, .closed:
            return .none
        case .awaitingHello(let deadline), .awaitingWelcome(let deadline):
            guard now >= deadline else { return .none }
            return self.closeFromTimer(WireError(.handshakeTimeout, "no handshake within \(self.configuration.handshakeTimeout)"))
        case .established(let established):
            let silence = now - established.lastReceived
            if silence >= established.negotiated.idleTimeout {
                return self.closeFromTimer(WireError(.idleTimeout, "nothing received for \(silence.nanoseconds / 1_000_000) ms"))
            }
            guard silence >= established.negotiated.heartbeatInterval, let frame = self.ping(now: now) else { return .none }
            return .write(frame)
        }
    }

    /// Sends a PING now, to measure round-trip time; nil if one is outstanding.
    public mutating func ping(now: NIODeadline) -> Frame? {
        let payload: UInt64?? = self.withEstablished { established in
            guard established.outstandingPing == nil else { return nil }
            let payload = established.nextPingPayload
            established.nextPingPayload &+= 1
            established.outstandingPing = (payload, now)
            return payload
        }
        guard let payload = payload ?? nil else { return nil }
        return Frame(streamID: 0, payload: .ping(payload))
    }

    private mutating func closeFromTimer(_ error: WireError) -> TickAction {
        guard case .closeConnection(let error, let frame?) = self.fail(error) else { return .none }
        return .closeConnection(error, frame)
    }
}
