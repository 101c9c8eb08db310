/// The database under a SQL store: SQLite (embedded, the default) or PostgreSQL
/// (shared by controller replicas). The store's code is the same for both; where their
/// SQL differs it asks the session's `dialect`.
public protocol SQLBackend: Sendable {
    var dialect: SQLDialect { get }
    /// Runs `body` in a transaction that sees one snapshot and writes nothing.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// Runs `body` in a transaction that commits when it returns and rolls back when it
    /// throws. PostgreSQL may run it again after a serialization failure, so `body`
    /// must do nothing but database work.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// A write whose statements decide nothing on what they read (batched health and
    /// seen marks: the last writer wins). PostgreSQL runs it READ COMMITTED: thousands of
    /// rows under SERIALIZABLE take a predicate lock on the whole table and make every
    /// other replica's write to it fail and retry. SQLite: the same as `write`.
    func batchWrite<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// Applies the migrations not applied yet, in order, each once, whatever number of
    /// processes open the database at the same time.
    func migrate(_ migrations: [SQLMigration]) async throws
    /// What committed transactions changed (the dashboard's feed, changes made by other replicas).
    var changes: StoreChanges { get }
}

/// One transaction's statements.
public protocol SQLSession: AnyObject {
    var dialect: SQLDialect { get }
    /// Runs one statement, or with no arguments a script of several separated by `;`.
    func execute(sql: String, arguments: SQLArguments) throws
    func rows(sql: String, arguments: SQLArguments) throws -> [SQLRow]
    /// Rows the last `execute` inserted, updated or deleted.
    var changesCount: Int { get }
}

extension SQLSession {
    public func execute(sql: String) throws { try self.execute(sql: sql, arguments: []) }
}

/// A schema change with the name it is recorded under.
public struct SQLMigration: Sendable {
    public var identifier: String
    public var migrate: @Sendable (any SQLSession) throws -> Void

    public init(_ identifier: String, _ migrate: @escaping @Sendable (any SQLSession) throws -> Void) {
        self.identifier = identifier
        self.migrate = migrate
    }
}

/// Where SQLite and PostgreSQL spell the same thing differently.
public enum SQLDialect: Sendable, Equatable {
    case sqlite
    case postgres

    /// The text at `key` of the JSON object in `column`.
    public func jsonText(_ column: String, _ key: String) -> String {
        switch self {
        case .sqlite: return "json_extract(\(column), '$.\(key)')"
        case .postgres: return "((\(column))::json->>'\(key)')"
        }
    }
}

extension [SQLMigration] {
    /// Runs, in `session`'s transaction, the migrations `schemaMigration` does not
    /// record yet, in order, recording each.
    func apply(in session: any SQLSession) throws {
        try session.execute(sql: "CREATE TABLE IF NOT EXISTS schemaMigration (identifier TEXT PRIMARY KEY NOT NULL)")
        let applied = Set(try String.fetchAll(session, sql: "SELECT identifier FROM schemaMigration"))
        for migration in self where !applied.contains(migration.identifier) {
            try migration.migrate(session)
            try session.execute(sql: "INSERT INTO schemaMigration VALUES (?)", arguments: [migration.identifier])
        }
    }

    /// Appends a migration: `migrations.registerMigration("v9: …") { db in … }`.
    public mutating func registerMigration(_ identifier: String, _ migrate: @escaping @Sendable (any SQLSession) throws -> Void) {
        self.append(SQLMigration(identifier, migrate))
    }
}
