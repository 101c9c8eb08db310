import NIOCore
import Platform
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
