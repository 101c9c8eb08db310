import Controller
import Foundation
import Logging
import NIOPosix

/// A fleet store for a test on each database the suite runs against: SQLite always,
/// PostgreSQL when `TERN_POSTGRES_URL` names a server (`scripts/postgres-cluster.sh`
/// starts a throwaway one; with `TERN_REQUIRE_POSTGRES=1`, as the test command sets,
/// its absence fails the PostgreSQL runs instead of skipping them). Each fixture has a
/// database of its own; `open()` may be called again to reopen it as a restarted
/// controller would.
public final class StoreFixture: @unchecked Sendable {
    public enum Kind: String, Sendable, CaseIterable, CustomStringConvertible {
        case sqlite, postgres
        public var description: String { self.rawValue }
    }

    /// The stores this run tests.
    public static var kinds: [Kind] {
        let env = ProcessInfo.processInfo.environment
        return env["TERN_POSTGRES_URL"] != nil || env["TERN_REQUIRE_POSTGRES"] == "1" ? [.sqlite, .postgres] : [.sqlite]
    }

    public let kind: Kind
    private let directory: TemporaryDirectory
    /// The database's address (PostgreSQL) or file (SQLite).
    public let location: String

    public init(_ kind: Kind) async throws {
        self.kind = kind
        self.directory = try TemporaryDirectory()
        switch kind {
        case .sqlite:
            self.location = self.directory.appending("fleet.sqlite")
        case .postgres:
            self.location = try await Self.createDatabase()
        }
    }

    public func open() async throws -> SQLFleetStore {
        switch self.kind {
        case .sqlite: return try SQLFleetStore(path: self.location)
        case .postgres:
            let backend = try await PostgresBackend.connect(location: try PostgresLocation(parsing: self.location), connections: 2, logger: Logger(label: "test-store"))
            return try await SQLFleetStore.open(backend)
        }
    }

    public func remove() {
        self.directory.remove()
    }

    /// The server's URL from the environment.
    public static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["TERN_POSTGRES_URL"] else {
            throw FleetStoreError.refused("TERN_POSTGRES_URL is not set: run the suite through scripts/test.sh, which starts PostgreSQL")
        }
        return url
    }

    /// A new empty database on the server; its URL. `psql` runs from a thread of NIO's
    /// pool: waiting for it on the concurrency pool would hold up every other test.
    public static func createDatabase() async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { try Self.createDatabaseNow() }
    }

    private static func createDatabaseNow() throws -> String {
        let server = try self.serverURL()
        let name = "tern_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        psql.arguments = ["psql", "-q", "-v", "ON_ERROR_STOP=1", server, "-c", "CREATE DATABASE \(name)"]
        try psql.run()
        psql.waitUntilExit()
        guard psql.terminationStatus == 0 else { throw FleetStoreError.refused("psql could not create database \(name) on \(server)") }
        guard var components = URLComponents(string: server) else { throw FleetStoreError.invalid("bad TERN_POSTGRES_URL \(server)") }
        components.path = "/" + name
        return components.string!
    }
}
