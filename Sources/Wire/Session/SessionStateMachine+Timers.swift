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

    /// The earliest time `tick` may have something to do (nil: never, in this state).
    /// Receiving only moves it later, so a handler can arm one timer for it and, when
    /// that fires, tick and arm the next: about one timer per connection per heartbeat
    /// interval, not a periodic one every quarter interval (8,000 firings a second
    /// through the event loops' scheduled-task heaps at 20,000 connections).
    public var nextDeadline: NIODeadline? {
        switch self.state {
        case .idle, .closed:
            return nil
        case .awaitingHello(let deadline), .awaitingWelcome(let deadline):
            return deadline
        case .established(let established):
            let idle = established.lastReceived + established.negotiated.idleTimeout
            guard established.outstandingPing == nil else { return idle }
            return min(idle, established.lastReceived + established.negotiated.heartbeatInterval)
        }
    }

    /// Called when `nextDeadline` passes (or at any time: early calls do nothing).
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
