import NIOConcurrencyHelpers
import NIOCore
import Wire

/// What the link knows about the controller connection, for the agent's own
/// status output and for tests.
public actor LinkStatus {
    public private(set) var negotiated: Negotiated?
    public private(set) var connections = 0
    public private(set) var roundTrip: TimeAmount?
    public private(set) var lastRefusal: GoAway?
    public private(set) var renewals = 0
    /// Counted by the connection's `TransferSink` on the event loop.
    nonisolated let transfers = TransferCounters()
    /// Transfer-stream bytes received over all connections (what a cut costs shows here).
    public var transferBytes: Int { self.transfers.bytes }

    public init() {}

    func connected(_ negotiated: Negotiated) {
        self.negotiated = negotiated
        self.connections += 1
        self.transfers.connectionStarted(self.connections)
    }

    func disconnected() {
        self.negotiated = nil
    }

    func roundTrip(_ value: TimeAmount) {
        self.roundTrip = value
    }

    func refused(_ goAway: GoAway) {
        self.lastRefusal = goAway
    }

    /// Bytes received that this site held already, per connection (index = connection number - 1):
    /// what each cut link cost.
    public var resentPerConnection: [Int] { self.transfers.resentPerConnection }

    func renewed() {
        self.renewals += 1
    }

    public var isConnected: Bool { self.negotiated != nil }
}

/// Transfer bytes received, counted where they are written (off any actor).
final class TransferCounters: Sendable {
    private struct State {
        var bytes = 0
        var connection = 0
        var resentPerConnection: [Int] = []
    }

    private let state = NIOLockedValueBox(State())

    var bytes: Int { self.state.withLockedValue { $0.bytes } }
    var resentPerConnection: [Int] { self.state.withLockedValue { $0.resentPerConnection } }

    func connectionStarted(_ number: Int) {
        self.state.withLockedValue { $0.connection = number }
    }

    func record(bytes count: Int, resent: Int) {
        self.state.withLockedValue { state in
            state.bytes += count
            guard resent > 0 else { return }
            while state.resentPerConnection.count < state.connection { state.resentPerConnection.append(0) }
            state.resentPerConnection[max(0, state.connection - 1)] += resent
        }
    }
}
