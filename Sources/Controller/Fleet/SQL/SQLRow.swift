/// One result row. Columns are found by name without regard to case: PostgreSQL folds
/// unquoted identifiers to lower case, SQLite keeps them as written.
public struct SQLRow: Sendable {
    private let values: [SQLValue]
    private let index: [String: Int]

    public init(columns: [String], values: [SQLValue]) {
        self.values = values
        var index: [String: Int] = [:]
        for (position, column) in columns.enumerated() where index[column.lowercased()] == nil {
            index[column.lowercased()] = position
        }
        self.index = index
    }

    public var count: Int { self.values.count }

    public subscript(position: Int) -> SQLValue { self.values[position] }

    /// The column read as `T`; a missing column or a value of another kind is a
    /// programming error (the schema is ours), as in GRDB: `fatalError`, which says what
    /// it found even in a release build (`preconditionFailure` there traps in silence).
    public subscript<T: SQLValueConvertible>(_ column: String) -> T {
        guard let position = self.index[column.lowercased()] else { fatalError("no column \(column) in the result") }
        guard let value = T(sqlValue: self.values[position]) else {
            fatalError("column \(column) holds \(self.values[position]), not \(T.self)")
        }
        return value
    }

    public static func fetchAll(_ db: any SQLSession, sql: String, arguments: SQLArguments = []) throws -> [SQLRow] {
        try db.rows(sql: sql, arguments: arguments)
    }

    public static func fetchOne(_ db: any SQLSession, sql: String, arguments: SQLArguments = []) throws -> SQLRow? {
        try db.rows(sql: sql, arguments: arguments).first
    }
}

extension SQLValueConvertible {
    /// The first column of every row.
    public static func fetchAll(_ db: any SQLSession, sql: String, arguments: SQLArguments = []) throws -> [Self] {
        try db.rows(sql: sql, arguments: arguments).map { row in
            guard row.count > 0, let value = Self(sqlValue: row[0]) else { fatalError("\(sql) returned \(row), not \(Self.self)") }
            return value
        }
    }

    /// The first column of the first row; nil when there is no row or it is NULL.
    public static func fetchOne(_ db: any SQLSession, sql: String, arguments: SQLArguments = []) throws -> Self? {
        guard let row = try db.rows(sql: sql, arguments: arguments).first, row.count > 0 else { return nil }
        if case .null = row[0] { return nil }
        return Self(sqlValue: row[0])
    }
}
