import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// The dashboard's live feed (Server-Sent Events): a snapshot of the fleet on
/// first load, then deltas — the rows, alarms, events, strategies and required
/// updates that changed — at most one per `coalesce` (250 ms), encoded once and
/// written to every open page. Driven by `StoreChanges`: nothing is read while the
/// store is quiet, so open pages cost nothing at rest. Frames carry ids
/// (`EPOCH-SEQ`); a page that reconnects with `Last-Event-ID` gets the deltas it
/// missed from a bounded ring, or a fresh snapshot when they are gone (or the
/// controller restarted). Heartbeat-only changes travel as compact `seen` batches.
/// With no page open for `idleAfter` (60 s) the feed drops what it holds and reads nothing
/// until one opens: six replicas with 100,000 agents each re-read every changed row
/// for a dashboard nobody was looking at.
public actor FleetFeed: Service {
    let store: any DashboardStore & AlarmStore
    let changes: StoreChanges
    let logger: Logger
    let coalesce: Duration
    /// How often heartbeat-only changes are sent.
    let seenInterval: Duration
    /// Pages connected at once, at most.
    public nonisolated let pageLimit: Int
    /// This process's id in frame ids: a page resuming across a restart gets a snapshot.
    nonisolated let epoch = String(UInt32.random(in: 0...UInt32.max), radix: 16)

    private var state = FeedState()
    private var seq: UInt64 = 0
    /// Recent delta frames, for pages that resume.
    private var ring: [(seq: UInt64, frame: ByteBuffer)] = []
    private let ringSize = 1024
    private var snapshotFrame: (seq: UInt64, frame: ByteBuffer)?
    private var seenPending: [String: Double] = [:]
    private var ready = false
    /// A page waits for the first read.
    private var wanted = false
    /// When a page was last open.
    private var lastPageAt = ContinuousClock.now
    /// With no page open this long the feed lets go of the fleet.
    let idleAfter: Duration
    /// With replicas: the last read of every row (another replica's health batch names
    /// rows by `*`), and whether one is owed. At most one every `fullReadInterval`.
    private var lastFullRead = ContinuousClock.now - .seconds(3600)
    private var fullReadOwed = false
    static let fullReadInterval: Duration = .seconds(5)

    private let subscribers = NIOLockedValueBox<[UInt64: AsyncStream<ByteBuffer>.Continuation]>([:])
    private let nextSubscriber = NIOLockedValueBox<UInt64>(0)

    public init(
        store: any DashboardStore & AlarmStore, changes: StoreChanges, logger: Logger, coalesce: Duration = .milliseconds(250),
        seenInterval: Duration = .seconds(5), pageLimit: Int = 1000, idleAfter: Duration = .seconds(60)
    ) {
        self.idleAfter = idleAfter
        self.store = store
        self.changes = changes
        self.logger = logger
        self.coalesce = coalesce
        self.seenInterval = seenInterval
        self.pageLimit = pageLimit
    }

    public func run() async throws {
        var lastSeenFlush = ContinuousClock.now
        var lastPing = ContinuousClock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if self.pagesOpen > 0 { self.lastPageAt = .now }
                if !self.ready {
                    if self.wanted { try await self.load() } else { _ = self.changes.take() }
                } else if ContinuousClock.now - self.lastPageAt >= self.idleAfter {
                    self.release()
                } else {
                    try await self.step()
                }
            } catch {
                self.logger.error("dashboard feed could not read the store", metadata: ["error": "\(error)"])
                self.ready = false
            }
            let now = ContinuousClock.now
            if now - lastSeenFlush >= self.seenInterval {
                self.flushSeen()
                lastSeenFlush = now
            }
            if now - lastPing >= .seconds(15) {
                // A comment line keeps proxies and the browser from timing the stream out.
                self.broadcast(ByteBuffer(string: ": ping\n\n"))
                lastPing = now
            }
            let idle = !self.ready && !self.wanted
            do {
                try await cancelWhenGracefulShutdown {
                    // Idle: only look for a page now and then.
                    if !idle { await self.changes.wait(upTo: min(self.seenInterval, .seconds(5), self.idleAfter)) }
                    try await Task.sleep(for: self.coalesce)
                }
            } catch {
                break
            }
        }
        // Finished outside the lock: finishing runs `onTermination`, which takes it.
        let open = self.subscribers.withLockedValue { subscribers in
            defer { subscribers = [:] }
            return Array(subscribers.values)
        }
        for continuation in open { continuation.finish() }
    }

    /// Reads everything the pages show.
    private func load() async throws {
        _ = self.changes.take()
        var state = FeedState()
        for (rowID, row) in try await self.store.fleetRows(rowIDs: nil) {
            state.rows[row.name] = row
            state.names[rowID] = row.name
        }
        state.alarms = try await self.store.alarms(subcloud: nil)
        state.events = try await self.store.events(after: 0, limit: FeedState.eventCount)
        state.strategies = try await self.store.strategySummaries()
        state.updates = try await self.store.requiredUpdates()
        self.state = state
        self.seq += 1
        self.ring = []
        self.snapshotFrame = nil
        self.ready = true
        self.wanted = false
        self.lastPageAt = .now
        // Pages open before a reload resynchronise from the new snapshot.
        self.broadcast(try self.snapshot())
    }

    /// No page has been open for `idleAfter`: forget the fleet until one opens. The
    /// sequence moves on, so a page that resumes later gets a snapshot.
    private func release() {
        self.logger.debug("no dashboard page open: the feed stops reading the store")
        self.state = FeedState()
        self.ring = []
        self.snapshotFrame = nil
        self.seenPending = [:]
        self.seq += 1
        self.ready = false
    }

    /// Applies what changed since the last step and sends it as one delta.
    private func step() async throws {
        var pending = self.changes.take()
        if pending.allSubclouds || self.fullReadOwed {
            // Hundreds of thousands of rows a second would be the cost of reading them all at each batch.
            let due = ContinuousClock.now - self.lastFullRead >= Self.fullReadInterval
            self.fullReadOwed = !due
            pending.allSubclouds = due
        }
        guard !pending.isEmpty else { return }
        var delta = FeedDelta()
        if pending.allSubclouds {
            self.lastFullRead = ContinuousClock.now
            // Another replica changed rows it could not name: read them all, and what is gone was deleted.
            let rows = try await self.store.fleetRows(rowIDs: nil)
            let present = Set(rows.map(\.row.name))
            for (rowID, name) in self.state.names where !present.contains(name) {
                self.state.names[rowID] = nil
                self.state.rows[name] = nil
                self.seenPending[name] = nil
                delta.removed.append(name)
            }
            self.apply(rows, to: &delta)
        } else if !pending.subclouds.isEmpty {
            self.apply(try await self.store.fleetRows(rowIDs: pending.subclouds), to: &delta)
        }
        for rowID in pending.deletedSubclouds {
            guard let name = self.state.names.removeValue(forKey: rowID), !pending.subclouds.contains(rowID) else { continue }
            self.state.rows[name] = nil
            self.seenPending[name] = nil
            delta.removed.append(name)
        }
        if pending.tables.contains("alarm") || pending.tables.contains("controllerAlarm") {
            let counts = try await self.store.alarmCountsBySubcloud()
            for (name, var row) in self.state.rows {
                let now = counts[name] ?? [0, 0, 0, 0]
                guard row.alarms != now else { continue }
                row.alarms = now
                self.state.rows[name] = row
                delta.rows.removeAll { $0.name == name }
                delta.rows.append(row)
            }
            let alarms = try await self.store.alarms(subcloud: nil)
            if alarms != self.state.alarms {
                self.state.alarms = alarms
                delta.alarms = alarms
            }
        }
        if pending.tables.contains("installed") {
            let commits = try await self.store.runningCommits()
            for (name, var row) in self.state.rows where row.commit != commits[name] {
                row.commit = commits[name]
                self.state.rows[name] = row
                delta.rows.removeAll { $0.name == name }
                delta.rows.append(row)
            }
        }
        if pending.tables.contains("installed") || pending.tables.contains("release") {
            let updates = try await self.store.requiredUpdates()
            if updates != self.state.updates {
                self.state.updates = updates
                delta.updates = updates
            }
        }
        if pending.tables.contains("event") {
            let newer = try await self.store.events(after: self.state.events.last?.id ?? 0, limit: FeedState.eventCount)
            if !newer.isEmpty {
                self.state.events = Array((self.state.events + newer).suffix(FeedState.eventCount))
                delta.events = newer
            }
        }
        if pending.tables.contains("strategy") || pending.tables.contains("strategyStep") {
            let strategies = try await self.store.strategySummaries()
            if strategies != self.state.strategies {
                self.state.strategies = strategies
                delta.strategies = strategies
            }
        }
        delta.tables = pending.tables.filter { ["deployment", "backup", "configState", "installed"].contains($0) }.sorted()
        guard !delta.isEmpty else { return }
        self.seq += 1
        self.snapshotFrame = nil
        delta.at = Date().timeIntervalSince1970
        let frame = Self.frame(event: "delta", id: "\(self.epoch)-\(self.seq)", try Self.encoder.encode(delta))
        self.ring.append((self.seq, frame))
        if self.ring.count > self.ringSize { self.ring.removeFirst(self.ring.count - self.ringSize) }
        self.broadcast(frame)
    }

    /// Takes changed rows into the state: new or changed ones into the delta, a change of
    /// `seen` alone into the next seen flush.
    private func apply(_ rows: [(rowID: Int64, row: FleetRow)], to delta: inout FeedDelta) {
        for (rowID, row) in rows {
            self.state.names[rowID] = row.name
            guard let old = self.state.rows[row.name] else {
                self.state.rows[row.name] = row
                delta.rows.append(row)
                continue
            }
            guard old != row else { continue }
            self.state.rows[row.name] = row
            if row.sameApartFromSeen(old) {
                self.seenPending[row.name] = row.seen
            } else {
                delta.rows.append(row)
                self.seenPending[row.name] = nil
            }
        }
    }

    private func flushSeen() {
        guard !self.seenPending.isEmpty, let data = try? Self.encoder.encode(self.seenPending) else { return }
        self.seenPending = [:]
        self.broadcast(Self.frame(event: "seen", id: nil, data))
    }

    private func snapshot() throws -> ByteBuffer {
        if let cached = self.snapshotFrame, cached.seq == self.seq { return cached.frame }
        let snapshot = FeedSnapshot(
            rows: self.state.rows.values.sorted { $0.name < $1.name }, alarms: self.state.alarms, events: self.state.events,
            strategies: self.state.strategies, updates: self.state.updates, at: Date().timeIntervalSince1970
        )
        let frame = Self.frame(event: "snapshot", id: "\(self.epoch)-\(self.seq)", try Self.encoder.encode(snapshot))
        self.snapshotFrame = (self.seq, frame)
        return frame
    }

    // MARK: Pages

    /// A page's stream: first what it lacks (the deltas after `lastEventID`, or a
    /// snapshot), then every frame. Nil when `pageLimit` pages are open.
    public func subscribe(lastEventID: String?) async throws -> AsyncStream<ByteBuffer>? {
        // Before the first read of the store, or after the feed went idle.
        while !self.ready {
            self.wanted = true
            try await Task.sleep(for: .milliseconds(50))
        }
        guard self.subscribers.withLockedValue({ $0.count }) < self.pageLimit else { return nil }
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingOldest(256))
        // Reconnect advice for the browser, then the catch-up.
        continuation.yield(ByteBuffer(string: "retry: 2000\n\n"))
        if let missed = self.missed(since: lastEventID) {
            for frame in missed { continuation.yield(frame) }
        } else {
            continuation.yield(try self.snapshot())
        }
        let id = self.nextSubscriber.withLockedValue { next in
            next += 1
            return next
        }
        self.subscribers.withLockedValue { $0[id] = continuation }
        continuation.onTermination = { [subscribers = self.subscribers] _ in
            _ = subscribers.withLockedValue { $0.removeValue(forKey: id) }
        }
        return stream
    }

    /// The deltas after `lastEventID` when this process still holds all of them.
    private func missed(since lastEventID: String?) -> [ByteBuffer]? {
        guard let lastEventID, let dash = lastEventID.lastIndex(of: "-"), lastEventID[..<dash] == self.epoch,
              let seen = UInt64(lastEventID[lastEventID.index(after: dash)...]), seen <= self.seq else { return nil }
        if seen == self.seq { return [] }
        guard let first = self.ring.first, first.seq <= seen + 1 else { return nil }
        return self.ring.filter { $0.seq > seen }.map(\.frame)
    }

    /// Whether the feed holds the fleet and follows the store's changes (a page is
    /// open, or was within `idleAfter`).
    public var isFollowing: Bool { self.ready }

    public nonisolated var pagesOpen: Int { self.subscribers.withLockedValue { $0.count } }

    /// Writes a frame to every page; a page too slow to take it is closed (its
    /// browser reconnects and resumes), so none holds an unbounded backlog.
    private nonisolated func broadcast(_ frame: ByteBuffer) {
        let slow = self.subscribers.withLockedValue { subscribers -> [UInt64] in
            var slow: [UInt64] = []
            for (id, continuation) in subscribers {
                if case .dropped = continuation.yield(frame) { slow.append(id) }
            }
            return slow
        }
        for id in slow {
            self.subscribers.withLockedValue { $0.removeValue(forKey: id) }?.finish()
        }
    }

    /// Times as seconds since 1970, what the page's `Date` takes.
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }

    static func frame(event: String, id: String?, _ data: Data) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(data.count + 64)
        if let id { buffer.writeString("id: \(id)\n") }
        buffer.writeString("event: \(event)\ndata: ")
        buffer.writeBytes(data)
        buffer.writeString("\n\n")
        return buffer
    }
}

/// What the feed holds: the last state it sent.
struct FeedState {
    static let eventCount = 200
    var rows: [String: FleetRow] = [:]
    var names: [Int64: String] = [:]
    var alarms: [Alarm] = []
    var events: [FleetEvent] = []
    var strategies: [StrategySummary] = []
    var updates: [RequiredUpdate] = []
}

struct FeedSnapshot: Encodable {
    var rows: [FleetRow]
    var alarms: [Alarm]
    var events: [FleetEvent]
    var strategies: [StrategySummary]
    var updates: [RequiredUpdate]
    var at: Double
}

struct FeedDelta: Encodable {
    var rows: [FleetRow] = []
    var removed: [String] = []
    var alarms: [Alarm]?
    var events: [FleetEvent]?
    var strategies: [StrategySummary]?
    var updates: [RequiredUpdate]?
    /// Other tables that changed (subcloud pages reload what they show of them).
    var tables: [String] = []
    var at: Double = 0

    var isEmpty: Bool {
        self.rows.isEmpty && self.removed.isEmpty && self.alarms == nil && self.events == nil && self.strategies == nil && self.updates == nil
            && self.tables.isEmpty
    }
}
