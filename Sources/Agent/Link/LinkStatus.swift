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
    /// Transfer-stream bytes received over all connections (what a cut costs shows here).
    public private(set) var transferBytes = 0

    public init() {}

    func connected(_ negotiated: Negotiated) {
        self.negotiated = negotiated
        self.connections += 1
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
    public private(set) var resentPerConnection: [Int] = []

    func received(transferBytes count: Int, resent: Int = 0) {
        self.transferBytes += count
        guard resent > 0 else { return }
        while self.resentPerConnection.count < self.connections { self.resentPerConnection.append(0) }
        self.resentPerConnection[max(0, self.connections - 1)] += resent
    }

    func renewed() {
        self.renewals += 1
    }

    public var isConnected: Bool { self.negotiated != nil }
}
