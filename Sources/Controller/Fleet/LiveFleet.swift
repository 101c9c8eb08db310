import Foundation
import NIOCore
import Wire

/// The in-memory view of the fleet's connections: who is connected now, and when
/// each subcloud was last heard from (kept across disconnects, for the offline check).
public actor LiveFleet {
    /// One connected agent.
    public struct Connection: Sendable {
        public var name: String
        public var software: String
        public var version: UInt32
        /// Features both sides support (PROTOCOL.md §5.3).
        public var features: [String] = []
        public var connectedAt: Date
        public var heartbeats: UInt64 = 0
        public var roundTrip: TimeAmount?
    }

    private var connections: [String: Connection] = [:]
    /// Each connection's outbound side, to send it messages from elsewhere (offers, commands).
    private var writers: [String: NIOAsyncChannelOutboundWriter<WireCommand>] = [:]
    private var generations: [String: Int] = [:]
    private var nextGeneration = 0
    /// Last time each subcloud was heard from (any frame that carried application data).
    public private(set) var lastHeard: [String: Date] = [:]
    /// Heartbeats received in total, for the metrics rate.
    public private(set) var heartbeatsReceived: UInt64 = 0

    public init() {}

    /// Registers a connection and returns its generation, with the writer of the
    /// connection it replaced. PROTOCOL.md §5.1: the newest connection of an identity
    /// wins (it is the same site reconnecting before the old link was noticed dead);
    /// the caller sends the older one GOAWAY(CONNECTION_REPLACED).
    func connected(
        _ negotiated: Negotiated, at now: Date, writer: NIOAsyncChannelOutboundWriter<WireCommand>? = nil
    ) -> (generation: Int, replaced: NIOAsyncChannelOutboundWriter<WireCommand>?) {
        self.revoked.remove(negotiated.peerIdentity)
        let replaced = self.writers[negotiated.peerIdentity]
        self.writers[negotiated.peerIdentity] = writer
        self.nextGeneration += 1
        self.generations[negotiated.peerIdentity] = self.nextGeneration
        self.connections[negotiated.peerIdentity] = Connection(
            name: negotiated.peerIdentity, software: negotiated.peerSoftware, version: negotiated.version, features: negotiated.features.sorted(), connectedAt: now
        )
        self.lastHeard[negotiated.peerIdentity] = now
        self.disconnectedAt[negotiated.peerIdentity] = nil
        return (self.nextGeneration, replaced)
    }

    func heard(_ name: String, at now: Date, heartbeat: Bool) {
        self.lastHeard[name] = now
        if heartbeat {
            self.connections[name]?.heartbeats += 1
            self.heartbeatsReceived += 1
        }
    }

    func roundTrip(_ name: String, _ value: TimeAmount) {
        self.connections[name]?.roundTrip = value
    }

    /// Whether `generation` is still the current connection of `name`.
    func isCurrent(_ name: String, generation: Int) -> Bool {
        self.generations[name] == generation
    }

    func disconnected(_ name: String, generation: Int, at now: Date = Date()) {
        guard self.generations[name] == generation else { return }
        self.generations[name] = nil
        self.connections[name] = nil
        self.writers[name] = nil
        self.disconnectedAt[name] = now
    }

    /// When each subcloud's connection last closed, while it has none.
    private var disconnectedAt: [String: Date] = [:]

    /// What `rule` says of `name` now, from what this process has seen of it.
    func availability(of name: String, rule: OfflineRule, now: Date) -> OfflineRule.Verdict {
        rule.verdict(connected: self.connections[name] != nil, lastHeard: self.lastHeard[name], disconnectedAt: self.disconnectedAt[name], now: now)
    }

    /// Objects each subcloud should hold: offered again on every connection until the
    /// agent has them (it ignores offers of what it already holds), so a cut transfer
    /// resumes after the reconnect without anyone asking.
    private var wanted: [String: [ContentDigest: TransferOffer]] = [:]

    func want(_ offer: TransferOffer, for name: String) {
        guard let digest = offer.digest else { return }
        self.wanted[name, default: [:]][digest] = offer
    }

    /// Every object some subcloud should still be offered.
    var allWanted: Set<ContentDigest> { Set(self.wanted.values.flatMap(\.keys)) }

    func wantedOffers(for name: String) -> [TransferOffer] {
        (self.wanted[name] ?? [:]).values.sorted { $0.name < $1.name }
    }

    /// Sends `command` on the current connection of `name`; false when not connected.
    public func send(_ command: WireCommand, to name: String) async throws -> Bool {
        guard let writer = self.writers[name] else { return false }
        try await writer.write(command)
        return true
    }

    /// Subclouds deleted while connected: their sessions end at the next event.
    private var revoked: Set<String> = []

    /// Forget a deleted subcloud and end its connection.
    func forget(_ name: String) {
        self.lastHeard[name] = nil
        self.disconnectedAt[name] = nil
        if self.connections[name] != nil { self.revoked.insert(name) }
    }

    /// Whether the connection of `name` must end because the subcloud was deleted.
    func isRevoked(_ name: String) -> Bool {
        self.revoked.contains(name)
    }

    /// The agents connected now, by name.
    public var all: [Connection] { self.connections.values.sorted { $0.name < $1.name } }

    public var count: Int { self.connections.count }

    public func connection(_ name: String) -> Connection? { self.connections[name] }
}
