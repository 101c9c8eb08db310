import Foundation

/// Where the shared store is: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
/// The password may also come from `PGPASSWORD`, so it need not be on a command line.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String

    public init(parsing text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw FleetStoreError.invalid("\(text) is not a postgres://USER@HOST:PORT/DATABASE address")
        }
        guard let host = components.host, !host.isEmpty else { throw FleetStoreError.invalid("\(text) names no host") }
        guard let user = components.user, !user.isEmpty else { throw FleetStoreError.invalid("\(text) names no user") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw FleetStoreError.invalid("\(text) names no database") }
        self.host = host
        self.port = components.port ?? 5432
        self.user = user
        self.password = components.password ?? environment["PGPASSWORD"]
        self.database = database
    }

    /// Without the password, for logs.
    public var description: String { "postgres://\(self.user)@\(self.host):\(self.port)/\(self.database)" }
}
