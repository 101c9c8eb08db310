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
///
/// `openLimit` caps the listener's connections open at once, authenticated or not, the
/// same way: a process out of descriptors fails wherever it next opens one (libdispatch
/// aborts the process when it cannot open `/proc/TID/stat`: six replicas holding 16,667
/// agents each under a 20,000-descriptor cap died so in a reconnect storm), so the
/// listener stops accepting before that and the rest wait in the accept queue.
public final class UnauthenticatedConnections: Sendable {
    public let limit: Int
    public let openLimit: Int
    private let state = NIOLockedValueBox(State())

    struct State {
        var holding: Set<ObjectIdentifier> = []
        /// Connections given a place and not closed yet (authenticated or not).
        var open = 0
        var peak = 0
        var accepted = 0
        var pauses = 0
        /// The listener, while it is not accepting because the cap is reached.
        var paused: (any Channel)?
    }

    public init(limit: Int, openLimit: Int = .max) {
        self.limit = limit
        self.openLimit = openLimit
    }

    /// Connections of the listener open now, authenticated or not.
    public var openConnections: Int { self.state.withLockedValue { $0.open } }

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
            guard state.holding.count < self.limit, state.open < self.openLimit else { return false }
            state.holding.insert(ObjectIdentifier(connection))
            state.open += 1
            state.accepted += 1
            state.peak = max(state.peak, state.holding.count)
            return true
        }
        if taken { connection.closeFuture.whenComplete { _ in self.closed(connection) } }
        return taken
    }

    private func closed(_ connection: any Channel) {
        self.resume(self.state.withLockedValue { state in
            state.holding.remove(ObjectIdentifier(connection))
            state.open -= 1
            return self.pausedListenerToResume(&state)
        })
    }

    /// Gives back the place of `connection` (once; later calls do nothing).
    func release(_ connection: any Channel) {
        self.resume(self.state.withLockedValue { state in
            guard state.holding.remove(ObjectIdentifier(connection)) != nil else { return nil }
            return self.pausedListenerToResume(&state)
        })
    }

    /// The paused listener, taken, when both caps have room again.
    private func pausedListenerToResume(_ state: inout State) -> (any Channel)? {
        guard state.holding.count < self.limit, state.open < self.openLimit, let listener = state.paused else { return nil }
        state.paused = nil
        return listener
    }

    /// Reads `listener` again through its pipeline, so that its gate asks again.
    private func resume(_ listener: (any Channel)?) {
        if let listener { listener.eventLoop.execute { listener.read() } }
    }

    /// Whether `listener` may accept now; if not, it is read again once a place is free.
    func mayAccept(_ listener: any Channel) -> Bool {
        self.state.withLockedValue { state in
            guard state.holding.count >= self.limit || state.open >= self.openLimit else { return true }
            if state.paused == nil { state.pauses += 1 }
            state.paused = listener
            return false
        }
    }
}
