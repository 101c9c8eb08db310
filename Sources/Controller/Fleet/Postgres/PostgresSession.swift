import Foundation
import Logging
import NIOCore
import PostgresNIO

/// One transaction's statements on one connection, run from a thread of the backend's
/// pool (each statement waits for its answer, as GRDB's do). Translates the store's
/// SQL: `?` becomes `$n` cast to the bound value's type, SQLite's column types become
/// PostgreSQL's in DDL, and writes to `subcloud` return the rowids they touched so the
/// dashboard (of every replica) can read just those rows.
final class PostgresSession: SQLSession {
    let connection: PostgresConnection
    let logger: Logger
    var dialect: SQLDialect { .postgres }
    private(set) var changesCount = 0
    /// What this transaction wrote, for the notification sent with its commit.
    private(set) var written = StoreChanges.Pending()

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    func execute(sql: String, arguments: SQLArguments) throws {
        if arguments.isEmpty {
            for statement in Self.statements(sql) { try self.run(Self.ddl(statement), arguments: []) }
        } else {
            try self.run(sql, arguments: arguments)
        }
    }

    func rows(sql: String, arguments: SQLArguments) throws -> [SQLRow] {
        try self.run(sql, arguments: arguments)
    }

    @discardableResult
    private func run(_ sql: String, arguments: SQLArguments) throws -> [SQLRow] {
        let target = Self.writeTarget(sql)
        var text = Self.placeholders(sql, arguments)
        let subcloudRows = target?.table == "subcloud" && !sql.localizedCaseInsensitiveContains("RETURNING")
        if subcloudRows { text += " RETURNING subcloud.rowid AS tern_changed_rowid" }
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument.sqlValue {
            case .null: binds.appendNull()
            case .integer(let n): binds.append(n)
            case .double(let d): binds.append(d)
            case .text(let s): binds.append(s)
            case .blob(let bytes): binds.append(ByteBuffer(bytes: bytes))
            }
        }
        let result = try self.connection.query(PostgresQuery(unsafeSQL: text, binds: binds), logger: self.logger).wait()
        self.changesCount = result.metadata.rows ?? 0
        let rows = try result.rows.map(Self.row)
        if let target {
            if subcloudRows {
                let ids = rows.map { $0["tern_changed_rowid"] as Int64 }
                if target.delete { self.written.deletedSubclouds.formUnion(ids) } else { self.written.subclouds.formUnion(ids) }
                return []
            }
            if self.changesCount > 0 { self.written.tables.insert(target.table) }
        }
        return rows
    }

    static func row(_ row: PostgresRow) throws -> SQLRow {
        var columns: [String] = []
        var values: [SQLValue] = []
        for cell in row {
            columns.append(cell.columnName)
            values.append(try self.value(cell))
        }
        return SQLRow(columns: columns, values: values)
    }

    static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null(.text) }
        switch cell.dataType {
        case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
        case .float4, .float8: return .double(try cell.decode(Double.self))
        case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .numeric: return .double(NSDecimalNumber(decimal: try cell.decode(Decimal.self)).doubleValue)
        case .bytea:
            var buffer = try cell.decode(ByteBuffer.self)
            return .blob(buffer.readBytes(length: buffer.readableBytes) ?? [])
        default: return .text(try cell.decode(String.self))
        }
    }

    /// The table an INSERT, UPDATE or DELETE writes, if `sql` is one.
    static func writeTarget(_ sql: String) -> (table: String, delete: Bool)? {
        let words = sql.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "(" }).prefix(3).map(String.init)
        guard let first = words.first?.lowercased() else { return nil }
        switch first {
        case "insert" where words.count > 2 && words[1].lowercased() == "into": return (words[2], false)
        case "update" where words.count > 1: return (words[1], false)
        case "delete" where words.count > 2 && words[1].lowercased() == "from": return (words[2], true)
        default: return nil
        }
    }

    /// `?` to `$n::type`, outside string literals. The cast tells PostgreSQL the type of
    /// a NULL (`$1::text IS NULL`) and costs nothing otherwise.
    static func placeholders(_ sql: String, _ arguments: SQLArguments) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + arguments.count * 8)
        var inLiteral = false
        var index = 0
        for character in sql {
            if character == "'" { inLiteral.toggle() }
            guard character == "?", !inLiteral, index < arguments.count else {
                out.append(character)
                continue
            }
            index += 1
            out += "$\(index)::\(self.typeName(arguments[index - 1].sqlValue.type))"
        }
        return out
    }

    static func typeName(_ type: SQLType) -> String {
        switch type {
        case .integer: return "int8"
        case .double: return "float8"
        case .text: return "text"
        case .blob: return "bytea"
        }
    }

    /// A script's statements (the store's scripts hold no `;` inside literals).
    static func statements(_ script: String) -> [String] {
        script.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// SQLite's column types as PostgreSQL spells them, in CREATE and ALTER TABLE.
    static func ddl(_ statement: String) -> String {
        let head = statement.prefix(12).uppercased()
        guard head.hasPrefix("CREATE TABLE") || head.hasPrefix("ALTER TABLE") else { return statement }
        var text = statement.replacingOccurrences(of: "INTEGER PRIMARY KEY AUTOINCREMENT", with: "BIGSERIAL PRIMARY KEY")
        for (sqlite, postgres) in [("DOUBLE", "DOUBLE PRECISION"), ("INTEGER", "BIGINT"), ("BOOLEAN", "BIGINT"), ("BLOB", "BYTEA")] {
            text = text.replacingOccurrences(of: "\\b\(sqlite)\\b", with: postgres, options: .regularExpression)
        }
        return text
    }
}
