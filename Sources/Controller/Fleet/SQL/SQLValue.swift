import Foundation

/// A value bound to or read from a statement, the same for SQLite and PostgreSQL.
/// A NULL keeps the type it stands for, so PostgreSQL can be told what a parameter is
/// (`$1::text IS NULL` needs a type where SQLite needs none).
public enum SQLValue: Sendable, Equatable {
    case null(SQLType)
    case integer(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])

    public var type: SQLType {
        switch self {
        case .null(let type): return type
        case .integer: return .integer
        case .double: return .double
        case .text: return .text
        case .blob: return .blob
        }
    }
}

/// The four storage classes the stores use.
public enum SQLType: Sendable, Equatable {
    case integer, double, text, blob
}

/// A Swift type that is bound to and read from statements.
public protocol SQLValueConvertible: Sendable {
    static var sqlType: SQLType { get }
    var sqlValue: SQLValue { get }
    /// Nil when the value cannot be read as this type.
    init?(sqlValue: SQLValue)
}

/// Statement arguments: `[name, at.timeIntervalSince1970, optionalSerial]`.
public typealias SQLArguments = [any SQLValueConvertible]

extension String: SQLValueConvertible {
    public static var sqlType: SQLType { .text }
    public var sqlValue: SQLValue { .text(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .text(let text): self = text
        case .integer(let n): self = String(n)
        case .double(let d): self = String(d)
        case .blob(let bytes): self = String(decoding: bytes, as: UTF8.self)
        case .null: return nil
        }
    }
}

extension Int64: SQLValueConvertible {
    public static var sqlType: SQLType { .integer }
    public var sqlValue: SQLValue { .integer(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .integer(let n): self = n
        case .double(let d): self = Int64(d)
        case .text(let text): guard let n = Int64(text) else { return nil }; self = n
        case .blob, .null: return nil
        }
    }
}

extension Int: SQLValueConvertible {
    public static var sqlType: SQLType { .integer }
    public var sqlValue: SQLValue { .integer(Int64(self)) }
    public init?(sqlValue: SQLValue) {
        guard let n = Int64(sqlValue: sqlValue) else { return nil }
        self = Int(n)
    }
}

extension Double: SQLValueConvertible {
    public static var sqlType: SQLType { .double }
    public var sqlValue: SQLValue { .double(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .double(let d): self = d
        case .integer(let n): self = Double(n)
        case .text(let text): guard let d = Double(text) else { return nil }; self = d
        case .blob, .null: return nil
        }
    }
}

/// Stored as 0 or 1 in both databases (an INTEGER column), as SQLite does.
extension Bool: SQLValueConvertible {
    public static var sqlType: SQLType { .integer }
    public var sqlValue: SQLValue { .integer(self ? 1 : 0) }
    public init?(sqlValue: SQLValue) {
        guard let n = Int64(sqlValue: sqlValue) else { return nil }
        self = n != 0
    }
}

extension Data: SQLValueConvertible {
    public static var sqlType: SQLType { .blob }
    public var sqlValue: SQLValue { .blob([UInt8](self)) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .blob(let bytes): self = Data(bytes)
        case .text(let text): self = Data(text.utf8)
        default: return nil
        }
    }
}

extension Optional: SQLValueConvertible where Wrapped: SQLValueConvertible {
    public static var sqlType: SQLType { Wrapped.sqlType }
    public var sqlValue: SQLValue { self.map(\.sqlValue) ?? .null(Wrapped.sqlType) }
    public init?(sqlValue: SQLValue) {
        if case .null = sqlValue {
            self = .none
            return
        }
        guard let value = Wrapped(sqlValue: sqlValue) else { return nil }
        self = .some(value)
    }
}
