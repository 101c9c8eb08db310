import Foundation
import NIOConcurrencyHelpers
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
    private var links: [String: AgentLink] = [:]
    private var generations: [String: Int] = [:]
    private var nextGeneration = 0
    /// What every message touches — when each subcloud was last heard from, heartbeat
    /// counts, deleted subclouds whose sessions must end — under a lock rather than in
    /// the actor: a session reads and writes it for each message without an actor hop
    /// (thousands of agents' messages would otherwise queue on this one actor).
    private struct Heard {
        var last: [String: Date] = [:]
        var heartbeats: [String: UInt64] = [:]
        var total: UInt64 = 0
        var revoked: Set<String> = []
    }

    private nonisolated let hearing = NIOLockedValueBox(Heard())

    /// Last time each subcloud was heard from (any frame that carried application data).
    public nonisolated var lastHeard: [String: Date] { self.hearing.withLockedValue { $0.last } }
    /// Heartbeats received in total, for the metrics rate.
    public nonisolated var heartbeatsReceived: UInt64 { self.hearing.withLockedValue { $0.total } }

    public init() {}

    /// Registers a connection and returns its generation, with the link of the
    /// connection it replaced. PROTOCOL.md §5.1: the newest connection of an identity
    /// wins (it is the same site reconnecting before the old link was noticed dead);
    /// the caller sends the older one GOAWAY(CONNECTION_REPLACED).
    func connected(
        _ negotiated: Negotiated, at now: Date, link: AgentLink? = nil
    ) -> (generation: Int, replaced: AgentLink?) {
        self.hearing.withLockedValue { heard in
            heard.revoked.remove(negotiated.peerIdentity)
            heard.last[negotiated.peerIdentity] = now
            heard.heartbeats[negotiated.peerIdentity] = 0
        }
        let replaced = self.links[negotiated.peerIdentity]
        self.links[negotiated.peerIdentity] = link
        self.nextGeneration += 1
        self.generations[negotiated.peerIdentity] = self.nextGeneration
        self.connections[negotiated.peerIdentity] = Connection(
            name: negotiated.peerIdentity, software: negotiated.peerSoftware, version: negotiated.version, features: negotiated.features.sorted(), connectedAt: now
        )
        self.disconnectedAt[negotiated.peerIdentity] = nil
        return (self.nextGeneration, replaced)
    }

    nonisolated func heard(_ name: String, at now: Date, heartbeat: Bool) {
        self.hearing.withLockedValue { heard in
            heard.last[name] = now
            if heartbeat {
                heard.heartbeats[name, default: 0] += 1
                heard.total += 1
            }
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
        self.links[name] = nil
        self.disconnectedAt[name] = now
    }

    /// When each subcloud's connection last closed, while it has none.
    private var disconnectedAt: [String: Date] = [:]

    /// What `rule` says of `name` now, from what this process has seen of it.
    func availability(of name: String, rule: OfflineRule, now: Date) -> OfflineRule.Verdict {
        let lastHeard = self.hearing.withLockedValue { $0.last[name] }
        return rule.verdict(connected: self.connections[name] != nil, lastHeard: lastHeard, disconnectedAt: self.disconnectedAt[name], now: now)
    }

    /// With replicas: the verdict of this replica if the site is its to judge (connected
    /// here, or its connection here closed and no replica has seen it since), else nil.
    func localAvailability(of name: String, seenElsewhere: Date?, rule: OfflineRule, now: Date) -> OfflineRule.Verdict? {
        if self.connections[name] == nil {
            guard let closed = self.disconnectedAt[name], (seenElsewhere ?? .distantPast) <= closed else { return nil }
        }
        return self.availability(of: name, rule: rule, now: now)
    }

    /// Verdicts for many sites in one hop onto this actor (the availability sweep asks for
    /// every online site each period: one hop per site was 100,000 hops a sweep):
    /// `availability(of:)` for each, or with replicas `localAvailability` (nil where the
    /// site is not this replica's to judge).
    func verdicts(for sites: [(name: String, lastSeenAt: Date?)], replicated: Bool, rule: OfflineRule, now: Date) -> [OfflineRule.Verdict?] {
        sites.map { site in
            replicated
                ? self.localAvailability(of: site.name, seenElsewhere: site.lastSeenAt, rule: rule, now: now)
                : self.availability(of: site.name, rule: rule, now: now)
        }
    }

    /// The subclouds connected to this controller now.
    var connectedNames: [String] { Array(self.connections.keys) }

    /// With replicas, every site `localAvailability` might judge here: connected now, or
    /// whose connection here closed (the rest are no verdict of this replica's).
    var judgedNames: [String] { Array(Set(self.connections.keys).union(self.disconnectedAt.keys)) }

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

    /// Sends `command` on the current connection of `name`; false when not connected,
    /// or when that connection is closing and the write fails (it is then as good as
    /// not connected: whatever must reach the site goes out on its next connection).
    public func send(_ command: WireCommand, to name: String) async throws -> Bool {
        guard let link = self.links[name] else { return false }
        do {
            try await link.write(command)
            return true
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            return false
        }
    }

    /// Forget a deleted subcloud and end its connection (its session ends at the next event).
    func forget(_ name: String) {
        let connected = self.connections[name] != nil
        self.hearing.withLockedValue { heard in
            heard.last[name] = nil
            heard.heartbeats[name] = nil
            if connected { heard.revoked.insert(name) }
        }
        self.disconnectedAt[name] = nil
    }

    /// Whether the connection of `name` must end because the subcloud was deleted.
    nonisolated func isRevoked(_ name: String) -> Bool {
        self.hearing.withLockedValue { $0.revoked.contains(name) }
    }

    /// The agents connected now, by name.
    public var all: [Connection] {
        let counts = self.hearing.withLockedValue { $0.heartbeats }
        return self.connections.values.sorted { $0.name < $1.name }.map { connection in
            var connection = connection
            connection.heartbeats = counts[connection.name] ?? 0
            return connection
        }
    }

    public var count: Int { self.connections.count }

    public func connection(_ name: String) -> Connection? {
        guard var connection = self.connections[name] else { return nil }
        connection.heartbeats = self.hearing.withLockedValue { $0.heartbeats[name] } ?? 0
        return connection
    }
}
