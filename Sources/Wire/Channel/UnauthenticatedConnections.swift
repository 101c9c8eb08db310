import NIOConcurrencyHelpers
import NIOCore

/// How many connections of one listener have not authenticated yet, against a cap.
///
/// A connection takes its place when the listener accepts it (`AcceptGate`) and gives
/// it back when it authenticates (`PreAuthenticationGuard`) or closes. While the cap is
/// reached the gate stops accepting, and a freed place reads the listener again: a
/// reconnect storm waits in the kernel's accept queue, in order, rather than being
/// refused and sent back into its backoff, and the TLS handshakes in flight (the CPU
/// work) stay bounded. Shared by every connection of the listener, on any event loop.
public final class UnauthenticatedConnections: Sendable {
    public let limit: Int
    private let state = NIOLockedValueBox(State())

    struct State {
        var holding: Set<ObjectIdentifier> = []
        var peak = 0
        var accepted = 0
        var pauses = 0
        /// The listener, while it is not accepting because the cap is reached.
        var paused: (any Channel)?
    }

    public init(limit: Int) {
        self.limit = limit
    }

    /// Connections holding a place now.
    public var open: Int { self.state.withLockedValue { $0.holding.count } }
    /// The most that ever held a place at once.
    public var peak: Int { self.state.withLockedValue { $0.peak } }
    /// Connections that were given a place.
    public var accepted: Int { self.state.withLockedValue { $0.accepted } }
    /// Times the listener stopped accepting until a place was free.
    public var pauses: Int { self.state.withLockedValue { $0.pauses } }

    /// Gives `connection` a place, or false at the cap. The place is given back when it
    /// closes, if `release` has not been called before.
    func take(_ connection: any Channel) -> Bool {
        let taken = self.state.withLockedValue { state in
            guard state.holding.count < self.limit else { return false }
            state.holding.insert(ObjectIdentifier(connection))
            state.accepted += 1
            state.peak = max(state.peak, state.holding.count)
            return true
        }
        if taken { connection.closeFuture.whenComplete { _ in self.release(connection) } }
        return taken
    }

    /// Gives back the place of `connection` (once; later calls do nothing).
    func release(_ connection: any Channel) {
        let resume: (any Channel)? = self.state.withLockedValue { state in
            guard state.holding.remove(ObjectIdentifier(connection)) != nil,
                  state.holding.count < self.limit, let listener = state.paused else { return nil }
            state.paused = nil
            return listener
        }
        // Through the listener's pipeline, so that its gate asks again.
        if let resume { resume.eventLoop.execute { resume.read() } }
    }

    /// Whether `listener` may accept now; if not, it is read again once a place is free.
    func mayAccept(_ listener: any Channel) -> Bool {
        self.state.withLockedValue { state in
            guard state.holding.count >= self.limit else { return true }
            if state.paused == nil { state.pauses += 1 }
            state.paused = listener
            return false
        }
    }
}
