import NIOConcurrencyHelpers
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
    /// Heartbeats sent and round trips measured, readable without awaiting (a simulator
    /// shares one among thousands of links).
    public nonisolated let counters: LinkCounters
    /// Transfer-stream bytes received over all connections (what a cut costs shows here).
    public var transferBytes: Int { self.transfers.bytes }

    public init(counters: LinkCounters = LinkCounters()) {
        self.counters = counters
    }

    /// The connection's channel, for `dropConnection()`.
    private var channel: (any Channel)?

    func connected(_ negotiated: Negotiated, channel: (any Channel)? = nil) {
        self.counters.connected(replacing: self.negotiated != nil)
        self.negotiated = negotiated
        self.channel = channel
        self.connections += 1
        self.transfers.connectionStarted(self.connections)
    }

    func disconnected() {
        if self.negotiated != nil { self.counters.disconnected() }
        self.negotiated = nil
        self.channel = nil
    }

    /// Closes the current connection as a cut link would (the link reconnects through
    /// its backoff): a simulator's churn.
    public func dropConnection() {
        self.channel?.close(promise: nil)
    }

    func roundTrip(_ value: TimeAmount) {
        self.roundTrip = value
        self.counters.roundTrip(value)
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

/// Heartbeats sent, keepalive round trips and connections, counted under a lock;
/// `take()` hands the round trips since the last call to whoever reports them. One
/// may be shared by many links (a simulator's thousands): it then counts for all.
public final class LinkCounters: Sendable {
    private struct State {
        var heartbeats = 0
        var roundTrips: [TimeAmount] = []
        var connected = 0
        var connections = 0
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    func heartbeat() {
        self.state.withLockedValue { $0.heartbeats += 1 }
    }

    func roundTrip(_ value: TimeAmount) {
        self.state.withLockedValue { state in
            // Bounded: a reader that never takes them keeps the newest 10,000.
            if state.roundTrips.count >= 10_000 { state.roundTrips.removeFirst(5_000) }
            state.roundTrips.append(value)
        }
    }

    func connected(replacing: Bool) {
        self.state.withLockedValue { state in
            state.connections += 1
            if !replacing { state.connected += 1 }
        }
    }

    func disconnected() {
        self.state.withLockedValue { $0.connected -= 1 }
    }

    public var heartbeats: Int { self.state.withLockedValue { $0.heartbeats } }
    /// Links connected now (past the handshake).
    public var connected: Int { self.state.withLockedValue { $0.connected } }
    /// Connections completed in total, first ones included.
    public var connections: Int { self.state.withLockedValue { $0.connections } }

    /// The round trips measured since the last call.
    public func take() -> [TimeAmount] {
        self.state.withLockedValue { state in
            defer { state.roundTrips = [] }
            return state.roundTrips
        }
    }
}
