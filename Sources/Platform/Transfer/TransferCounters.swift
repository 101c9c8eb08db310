import NIOConcurrencyHelpers

/// Transfer bytes received, counted where they are written (off any actor).
public final class TransferCounters: Sendable {
    private struct State {
        var bytes = 0
        var connection = 0
        var resentPerConnection: [Int] = []
        var resent = 0
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    public var bytes: Int { self.state.withLockedValue { $0.bytes } }
    public var resentPerConnection: [Int] { self.state.withLockedValue { $0.resentPerConnection } }
    /// Bytes received that were held already (sent again after a cut), over all connections.
    public var resent: Int { self.state.withLockedValue { $0.resent } }

    public func connectionStarted(_ number: Int) {
        self.state.withLockedValue { $0.connection = number }
    }

    public func record(bytes count: Int, resent: Int) {
        self.state.withLockedValue { state in
            state.bytes += count
            state.resent += resent
            guard resent > 0 else { return }
            // A receiver that does not number its connections (the controller's, shared by
            // every agent connection) counts them all as one.
            let index = max(0, state.connection - 1)
            while state.resentPerConnection.count <= index { state.resentPerConnection.append(0) }
            state.resentPerConnection[index] += resent
        }
    }
}
