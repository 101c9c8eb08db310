import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO

/// The store on a PostgreSQL database that several controller replicas share.
///
/// Transactions run as the store's SQLite ones do: a closure of statements on a thread
/// of their own (here one per connection, each statement waiting for its answer), so
/// the store's code is the same for both. Writes are SERIALIZABLE and are run again
/// after a serialization failure, which is what makes one replica's check-then-insert
/// (a subcloud added twice at once on two replicas) safe against another's. Each commit
/// notifies `tern_changes` with what it wrote, so every replica's dashboard and agents
/// hear of a change made on another within a round trip.
///
/// Batched heartbeat and health writes have a thread and connection of their own:
/// liveness must not wait behind a queue of other writes (a replica's seen marks late
/// are another replica's offline verdicts). One writer per replica for everything was
/// tried: serialization failures fell (2,043 → 139 retries in the six-replica test), but
/// sessions waiting on the queue went unheard long enough to be judged offline.
public final class PostgresBackend: SQLBackend {
    public static let channel = "tern_changes"
    /// Subcloud names whose desired state another replica changed (`SQLFleetStore.nudge`).
    public static let nudgeChannel = "tern_nudge"
    private let nudged = NIOLockedValueBox<[@Sendable ([String]) -> Void]>([])
    public let changes = StoreChanges()
    public var dialect: SQLDialect { .postgres }
    /// Names this process in notifications, so it does not apply its own twice.
    public let replica = UUID().uuidString
    let location: PostgresLocation
    let logger: Logger
    private let threads: NIOThreadPool
    private let idle: NIOLockedValueBox<[PostgresConnection]>
    private let batchWriter: NIOThreadPool
    private let idleBatchWriter: NIOLockedValueBox<[PostgresConnection]>
    private let group: any EventLoopGroup
    private let listener: NIOLockedValueBox<PostgresConnection?> = .init(nil)

    /// Connects `connections` sessions, one for batched writes and one that listens to the database at
    /// `location`, on a thread of NIO's pool (connecting waits on each answer).
    public static func connect(location: PostgresLocation, connections: Int = 4, logger: Logger) async throws -> PostgresBackend {
        try await NIOThreadPool.singleton.runIfActive { try PostgresBackend(location: location, connections: connections, logger: logger) }
    }

    private init(location: PostgresLocation, connections: Int, logger: Logger) throws {
        self.location = location
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup.singleton
        self.threads = NIOThreadPool(numberOfThreads: connections)
        self.threads.start()
        self.batchWriter = NIOThreadPool(numberOfThreads: 1)
        self.batchWriter.start()
        var opened: [PostgresConnection] = []
        do {
            for id in 0...connections { opened.append(try Self.connect(location, id: id, group: self.group, logger: logger)) }
        } catch {
            for connection in opened { connection.close().whenComplete { _ in withExtendedLifetime(connection) {} } }
            self.threads.shutdownGracefully { _ in }
            self.batchWriter.shutdownGracefully { _ in }
            throw PostgresStoreError(error)
        }
        self.idleBatchWriter = NIOLockedValueBox([opened.removeLast()])
        self.idle = NIOLockedValueBox(opened)
        do { try self.listen() } catch { throw PostgresStoreError(error) }
    }

    deinit {
        let connections = self.idle.withLockedValue { $0 } + self.idleBatchWriter.withLockedValue { $0 } + [self.listener.withLockedValue { $0 }].compactMap { $0 }
        self.listener.withLockedValue { $0 = nil }
        // Each kept until it has closed (a connection must not go before its channel).
        for connection in connections where !connection.isClosed { connection.close().whenComplete { _ in withExtendedLifetime(connection) {} } }
        self.threads.shutdownGracefully { _ in }
        self.batchWriter.shutdownGracefully { _ in }
    }

    static func connect(_ location: PostgresLocation, id: Int, group: any EventLoopGroup, logger: Logger) throws -> PostgresConnection {
        let configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password, database: location.database, tls: .disable
        )
        return try PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger).wait()
    }

    /// Calls `body` with the subclouds another replica nudged, as they arrive.
    public func onNudge(_ body: @escaping @Sendable ([String]) -> Void) {
        self.nudged.withLockedValue { $0.append(body) }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await self.threads.runIfActive {
            try self.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", on: self.idle, notify: false) { try body($0) }
        }
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await self.threads.runIfActive {
            try self.transaction("BEGIN ISOLATION LEVEL SERIALIZABLE", on: self.idle, notify: true) { try body($0) }
        }
    }

    public func batchWrite<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await self.batchWriter.runIfActive {
            try self.transaction("BEGIN ISOLATION LEVEL READ COMMITTED", on: self.idleBatchWriter, notify: true) { try body($0) }
        }
    }

    public func migrate(_ migrations: [SQLMigration]) async throws {
        try await self.threads.runIfActive { try self.migrateNow(migrations) }
    }

    private func migrateNow(_ migrations: [SQLMigration]) throws {
        _ = try self.transaction("BEGIN", on: self.idle, notify: false) { session in
            // Replicas starting together migrate one after the other.
            try session.execute(sql: "SELECT pg_advisory_xact_lock(7301)")
            try migrations.apply(in: session)
        }
    }

    /// Runs `body` in a transaction on a connection of its own, again after a
    /// serialization failure or deadlock, and maps constraint violations to the store's
    /// errors. Replicas writing the same tables at once (six enrolling thousands of
    /// agents each) conflict often: the retries back off exponentially with full
    /// jitter, up to 100 ms apart, for as long as `retryFor` (ten quick tries were not
    /// enough). Serializing writes under an advisory lock instead was slower: every
    /// writer then waits out every other's round trips.
    private func transaction<T>(
        _ begin: String, on pool: NIOLockedValueBox<[PostgresConnection]>, notify: Bool, _ body: (PostgresSession) throws -> T
    ) throws -> T {
        // As many connections as the pool has threads: one is always free to the thread running this.
        guard var connection = pool.withLockedValue({ $0.popLast() }) else { throw FleetStoreError.refused("no database connection free") }
        defer { pool.withLockedValue { $0.append(connection) } }
        var attempt = 0
        let started = NIODeadline.now()
        while true {
            attempt += 1
            if connection.isClosed { connection = try Self.connect(self.location, id: 100 + attempt, group: self.group, logger: self.logger) }
            let session = PostgresSession(connection: connection, logger: self.logger)
            do {
                try session.execute(sql: begin)
                let result = try body(session)
                let written = session.written
                if notify, !written.isEmpty {
                    try session.execute(sql: "SELECT pg_notify(?, ?)", arguments: [Self.channel, self.replica + " " + Self.payload(written)])
                }
                try session.execute(sql: "COMMIT")
                if notify { self.changes.committed(written.watched) }
                return result
            } catch {
                if !connection.isClosed { _ = try? connection.query("ROLLBACK", logger: self.logger).wait() }
                let state = (error as? PSQLError)?.serverInfo?[.sqlState]
                if state == "40001" || state == "40P01", NIODeadline.now() - started < Self.retryFor {
                    Thread.sleep(forTimeInterval: Self.backoff(attempt: attempt))
                    continue
                }
                if state == "23505" { throw FleetStoreError.conflict("it already exists (\((error as? PSQLError)?.serverInfo?[.message] ?? "unique violation"))") }
                if state == "23503" { throw FleetStoreError.refused("it is still referred to (\((error as? PSQLError)?.serverInfo?[.message] ?? "foreign key"))") }
                // The store's own refusals go out as they are.
                throw error is PSQLError ? PostgresStoreError(error) : error
            }
        }
    }

    static let retryFor = TimeAmount.seconds(30)

    /// Seconds before try `attempt + 1`: uniform in 0…min(100 ms, 1 ms × 2^attempt).
    static func backoff(attempt: Int) -> Double {
        Double.random(in: 0...min(0.1, 0.001 * Double(1 << min(attempt, 10))))
    }

    // MARK: Notifications

    /// `subcloud:1,2 deleted:3 tables:alarm,event`, or `subcloud:*` when the rowids do
    /// not fit the 8,000 bytes a notification carries.
    static func payload(_ changes: StoreChanges.Pending) -> String {
        var parts: [String] = []
        if changes.subclouds.count + changes.deletedSubclouds.count > 500 || changes.allSubclouds {
            parts.append("subcloud:*")
        } else {
            if !changes.subclouds.isEmpty { parts.append("subcloud:" + changes.subclouds.map(String.init).joined(separator: ",")) }
            if !changes.deletedSubclouds.isEmpty { parts.append("deleted:" + changes.deletedSubclouds.map(String.init).joined(separator: ",")) }
        }
        if !changes.tables.isEmpty { parts.append("tables:" + changes.tables.sorted().joined(separator: ",")) }
        return parts.joined(separator: " ")
    }

    static func parse(_ payload: Substring) -> StoreChanges.Pending {
        var changes = StoreChanges.Pending()
        for part in payload.split(separator: " ") {
            let pieces = part.split(separator: ":", maxSplits: 1)
            guard pieces.count == 2 else { continue }
            let values = pieces[1].split(separator: ",")
            switch pieces[0] {
            case "subcloud" where pieces[1] == "*": changes.allSubclouds = true
            case "subcloud": changes.subclouds.formUnion(values.compactMap { Int64($0) })
            case "deleted": changes.deletedSubclouds.formUnion(values.compactMap { Int64($0) })
            case "tables": changes.tables.formUnion(values.map(String.init))
            default: continue
            }
        }
        return changes
    }

    /// A connection of its own LISTENs; it reconnects when the database goes away, and
    /// then tells the feed to read everything again (notifications were missed).
    private func listen() throws {
        let connection = try Self.connect(self.location, id: 1000, group: self.group, logger: self.logger)
        connection.addListener(channel: Self.channel) { [weak self] _, notification in
            guard let self else { return }
            let text = Substring(notification.payload)
            guard let space = text.firstIndex(of: " "), text[..<space] != Substring(self.replica) else { return }
            let changes = Self.parse(text[text.index(after: space)...])
            self.changes.committed(changes.watched)
        }
        connection.addListener(channel: Self.nudgeChannel) { [weak self] _, notification in
            guard let self else { return }
            let text = Substring(notification.payload)
            guard let space = text.firstIndex(of: " "), text[..<space] != Substring(self.replica) else { return }
            let names = text[text.index(after: space)...].split(separator: ",").map(String.init)
            for body in self.nudged.withLockedValue({ $0 }) { body(names) }
        }
        _ = try connection.query(PostgresQuery(unsafeSQL: "LISTEN " + Self.channel), logger: self.logger).wait()
        _ = try connection.query(PostgresQuery(unsafeSQL: "LISTEN " + Self.nudgeChannel), logger: self.logger).wait()
        self.listener.withLockedValue { $0 = connection }
        connection.closeFuture.whenComplete { [weak self] _ in
            guard let self else { return }
            self.relisten(after: .milliseconds(500))
        }
    }

    private func relisten(after delay: TimeAmount) {
        self.group.next().scheduleTask(in: delay) { [weak self] in
            guard let self else { return }
            self.threads.submit { [weak self] _ in
                guard let self else { return }
                do {
                    try self.listen()
                    self.changes.committed(StoreChanges.Pending(allSubclouds: true, tables: StoreChanges.watched))
                } catch {
                    self.logger.warning("store notifications: cannot listen again yet", metadata: ["error": "\(error)"])
                    self.relisten(after: .seconds(2))
                }
            }
        }
    }
}

extension StoreChanges.Pending {
    /// Only the tables the dashboard shows.
    var watched: StoreChanges.Pending {
        var copy = self
        copy.tables = copy.tables.intersection(StoreChanges.watched)
        return copy
    }
}

/// What PostgreSQL said, readable (postgres-nio's errors print nothing by default, to
/// keep bound values out of logs; the server's message and SQLSTATE carry none).
public struct PostgresStoreError: Error, CustomStringConvertible {
    public var sqlState: String?
    public var message: String

    init(_ error: any Error) {
        guard let error = error as? PSQLError else {
            self.message = "\(error)"
            return
        }
        self.sqlState = error.serverInfo?[.sqlState]
        if let server = error.serverInfo?[.message] {
            self.message = server + (error.serverInfo?[.detail].map { " (\($0))" } ?? "")
        } else {
            self.message = "\(error.code)"
        }
        if let query = error.query { self.message += " in: \(query.sql)" }
    }

    public var description: String { "PostgreSQL: \(self.message)" + (self.sqlState.map { " [\($0)]" } ?? "") }
}
