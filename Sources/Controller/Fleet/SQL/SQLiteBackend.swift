import Foundation
import GRDB
import NIOConcurrencyHelpers

/// The embedded store: one SQLite file in WAL mode (GRDB), one writer, readers beside it.
public final class SQLiteBackend: SQLBackend {
    let pool: DatabasePool
    public let changes = StoreChanges()
    public var dialect: SQLDialect { .sqlite }

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(5)
        self.pool = try DatabasePool(path: path, configuration: configuration)
        self.pool.add(transactionObserver: SQLiteChangeObserver(self.changes), extent: .databaseLifetime)
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await self.pool.read { db in try body(SQLiteSession(db)) }
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await self.pool.write { db in try body(SQLiteSession(db)) }
    }

    public func batchWrite<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await self.write(body)
    }

    public func migrate(_ migrations: [SQLMigration]) async throws {
        try await self.pool.write { db in try Self.migrate(db, migrations) }
    }

    /// The same, on the calling thread (opening the embedded store at start).
    public func migrateNow(_ migrations: [SQLMigration]) throws {
        try self.pool.write { db in try Self.migrate(db, migrations) }
    }

    private static func migrate(_ db: Database, _ migrations: [SQLMigration]) throws {
        // Databases made before the store had its own migrator recorded GRDB's.
        if try db.tableExists("grdb_migrations") {
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS schemaMigration (identifier TEXT PRIMARY KEY NOT NULL)")
            try db.execute(sql: "INSERT OR IGNORE INTO schemaMigration SELECT identifier FROM grdb_migrations")
            try db.execute(sql: "DROP TABLE grdb_migrations")
        }
        try migrations.apply(in: SQLiteSession(db))
    }
}

/// GRDB's connection as a session.
final class SQLiteSession: SQLSession {
    let db: Database
    var dialect: SQLDialect { .sqlite }

    init(_ db: Database) { self.db = db }

    var changesCount: Int { self.db.changesCount }

    /// Statements with more arguments than this are batches and are not cached.
    static let cachedArgumentsLimit = 32

    func execute(sql: String, arguments: SQLArguments) throws {
        if arguments.isEmpty {
            try self.db.execute(sql: sql)
        } else if arguments.count > Self.cachedArgumentsLimit {
            // A batch statement (VALUES or IN lists): its text differs with every batch
            // size, and a cached statement keeps its last arguments bound — up to 300
            // sizes' worth of health JSON stayed live. Prepared, run and finalized instead.
            try self.db.execute(sql: sql, arguments: Self.arguments(arguments))
        } else {
            try self.db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
        }
    }

    func rows(sql: String, arguments: SQLArguments) throws -> [SQLRow] {
        let statement = try self.db.cachedStatement(sql: sql)
        let columns = statement.columnNames
        return try Row.fetchAll(statement, arguments: Self.arguments(arguments)).map { row in
            SQLRow(columns: columns, values: (0..<row.count).map { Self.value(row[$0] as DatabaseValue) })
        }
    }

    static func arguments(_ arguments: SQLArguments) -> StatementArguments {
        StatementArguments(arguments.map { argument -> DatabaseValue in
            switch argument.sqlValue {
            case .null: return .null
            case .integer(let n): return n.databaseValue
            case .double(let d): return d.databaseValue
            case .text(let text): return text.databaseValue
            case .blob(let bytes): return Data(bytes).databaseValue
            }
        })
    }

    static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null: return .null(.text)
        case .int64(let n): return .integer(n)
        case .double(let d): return .double(d)
        case .string(let text): return .text(text)
        case .blob(let data): return .blob([UInt8](data))
        }
    }
}

/// Stages what each transaction changes in the watched tables and hands it to
/// `StoreChanges` at commit.
final class SQLiteChangeObserver: TransactionObserver, Sendable {
    private let changes: StoreChanges
    private let staged = NIOLockedValueBox(StoreChanges.Pending())

    init(_ changes: StoreChanges) { self.changes = changes }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        StoreChanges.watched.contains(eventKind.tableName)
    }

    func databaseDidChange(with event: DatabaseEvent) {
        let table = event.tableName
        let rowID = event.rowID
        let kind = event.kind
        self.staged.withLockedValue { staged in
            guard table == "subcloud" else {
                staged.tables.insert(table)
                return
            }
            if kind == .delete { staged.deletedSubclouds.insert(rowID) } else { staged.subclouds.insert(rowID) }
        }
    }

    func databaseDidCommit(_ db: Database) {
        let staged = self.staged.withLockedValue { staged in
            defer { staged = StoreChanges.Pending() }
            return staged
        }
        self.changes.committed(staged)
    }

    func databaseDidRollback(_ db: Database) {
        self.staged.withLockedValue { $0 = StoreChanges.Pending() }
    }
}
