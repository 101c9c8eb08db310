import Foundation
import TernTestSupport
import Testing
@testable import Controller

/// The fleet registry on a real database: an SQLite file, and a PostgreSQL database when the suite has a server.
@Suite struct FleetStoreTests {
    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    /// A store of `kind` on a database of its own, and the fixture to reopen it.
    static func withStore(_ kind: StoreFixture.Kind, _ body: (SQLFleetStore, StoreFixture) async throws -> Void) async throws {
        let fixture = try await StoreFixture(kind)
        defer { fixture.remove() }
        try await body(try await fixture.open(), fixture)
    }

    static func token(_ hash: String = UUID().uuidString, expires: Date = t0.addingTimeInterval(3600)) -> BootstrapToken.Record {
        BootstrapToken.Record(hash: hash, expiresAt: expires)
    }

    @Test("a subcloud is created unmanaged and awaiting enrolment, in the Default group, and names are unique", arguments: StoreFixture.kinds)
    func create(_ kind: StoreFixture.Kind) async throws {
        try await Self.withStore(kind) { store, _ in
            let created = try await store.createSubcloud(name: "edge-01", group: "Default", description: "store 1", token: Self.token(), at: Self.t0)
            #expect(created.management == .unmanaged && created.availability == .offline && created.deployStatus == .awaitingEnrolment)
            #expect(created.sync == Subcloud.Sync())
            await #expect(throws: FleetStoreError.conflict("a subcloud named \"edge-01\" already exists")) {
                _ = try await store.createSubcloud(name: "edge-01", group: "Default", description: "", token: Self.token(), at: Self.t0)
            }
            await #expect(throws: FleetStoreError.self) {
                _ = try await store.createSubcloud(name: "edge-02", group: "Nowhere", description: "", token: Self.token(), at: Self.t0)
            }
        }
    }

    @Test("a bootstrap token works once, not after it expires, and not if unknown", arguments: StoreFixture.kinds)
    func tokens(_ kind: StoreFixture.Kind) async throws {
        try await Self.withStore(kind) { store, _ in
            _ = try await store.createSubcloud(name: "edge-01", group: "Default", description: "", token: Self.token("a"), at: Self.t0)
            _ = try await store.createSubcloud(name: "edge-02", group: "Default", description: "", token: Self.token("b", expires: Self.t0.addingTimeInterval(10)), at: Self.t0)
            #expect(try await store.consumeToken(hash: "a", at: Self.t0).name == "edge-01")
            await #expect(throws: EnrolmentRefusal.used) { _ = try await store.consumeToken(hash: "a", at: Self.t0) }
            await #expect(throws: EnrolmentRefusal.expired) { _ = try await store.consumeToken(hash: "b", at: Self.t0.addingTimeInterval(11)) }
            await #expect(throws: EnrolmentRefusal.unknown) { _ = try await store.consumeToken(hash: "zzz", at: Self.t0) }
            // A replacement token works; the old one no longer does.
            try await store.replaceToken(for: "edge-02", with: Self.token("c"), at: Self.t0)
            await #expect(throws: EnrolmentRefusal.unknown) { _ = try await store.consumeToken(hash: "b", at: Self.t0) }
            #expect(try await store.consumeToken(hash: "c", at: Self.t0).name == "edge-02")
        }
    }

    @Test("delete is refused while managed, revokes the certificate, and is logged", arguments: StoreFixture.kinds)
    func delete(_ kind: StoreFixture.Kind) async throws {
        try await Self.withStore(kind) { store, _ in
            _ = try await store.createSubcloud(name: "edge-01", group: "Default", description: "", token: Self.token(), at: Self.t0)
            await #expect(throws: FleetStoreError.self) { _ = try await store.setManagement("edge-01", to: .managed, at: Self.t0) }
            try await store.recordCertificate(for: "edge-01", serial: "abc123", notAfter: Self.t0.addingTimeInterval(86_400), enrolment: true, at: Self.t0)
            #expect(try await store.setManagement("edge-01", to: .managed, at: Self.t0).management == .managed)
            await #expect(throws: FleetStoreError.refused("edge-01 is managed: unmanage it before deleting it")) { try await store.deleteSubcloud("edge-01", at: Self.t0) }
            #expect(try await store.isRevoked(serial: "abc123") == false)
            _ = try await store.setManagement("edge-01", to: .unmanaged, at: Self.t0)
            try await store.deleteSubcloud("edge-01", at: Self.t0)
            #expect(try await store.isRevoked(serial: "abc123"))
            #expect(try await store.subcloud(named: "edge-01") == nil)
            let kinds = try await store.events(since: nil, limit: 100).map(\.kind)
            #expect(kinds == ["created", "enrolled", "managed", "unmanaged", "deleted"])
        }
    }

    @Test("alarms are kept per (id, entity), counted per subcloud, and cleared once", arguments: StoreFixture.kinds)
    func alarms(_ kind: StoreFixture.Kind) async throws {
        try await Self.withStore(kind) { store, _ in
            _ = try await store.createSubcloud(name: "edge-01", group: "Default", description: "", token: Self.token(), at: Self.t0)
            let alarm = Alarm(subcloud: "edge-01", alarmID: "100.104", entity: "fs=/var", severity: "major", reason: "full", probableCause: "x", repairAction: "y", serviceAffecting: false, raisedAt: Self.t0)
            try await store.raise(alarm)
            try await store.raise(alarm)  // the same alarm again: updated, not duplicated
            var critical = alarm
            critical.alarmID = "280.001"
            critical.severity = "critical"
            try await store.raise(critical)
            #expect(try await store.alarms(subcloud: "edge-01").count == 2)
            let counts = try await store.subcloud(named: "edge-01")!.alarmCounts
            #expect(counts.critical == 1 && counts.major == 1 && counts.total == 2)
            try await store.clear(subcloud: "edge-01", alarmID: "100.104", entity: "fs=/var", at: Self.t0)
            try await store.clear(subcloud: "edge-01", alarmID: "100.104", entity: "fs=/var", at: Self.t0)
            let kinds = try await store.events(since: nil, limit: 100).map(\.kind)
            #expect(kinds.filter { $0 == "alarm-raised" }.count == 2)
            #expect(kinds.filter { $0 == "alarm-cleared" }.count == 1)
            // The fleet's count (the availability sweep's gauge) takes the controller's own too.
            #expect(try await store.activeAlarmCount() == 1)
            var own = alarm
            own.subcloud = Alarm.controller
            own.alarmID = "210.003"
            try await store.raiseControllerAlarm(own)
            #expect(try await store.activeAlarmCount() == 2)
            #expect(try await store.alarms(subcloud: nil).count == 2)
            try await store.clearControllerAlarm(alarmID: "210.003", entity: "fs=/var", at: Self.t0)
            #expect(try await store.activeAlarmCount() == 1)
        }
    }

    @Test("a health batch larger than one statement's chunk writes every site's own health and time, and seen marks never go back", arguments: StoreFixture.kinds)
    func healthBatch(_ kind: StoreFixture.Kind) async throws {
        try await Self.withStore(kind) { store, _ in
            let names = (0..<350).map { String(format: "edge-%03d", $0) }
            for name in names { _ = try await store.createSubcloud(name: name, group: "Default", description: "", token: Self.token(), at: Self.t0) }
            var batch: [String: Subcloud.Health] = [:]
            for (index, name) in names.enumerated() {
                batch[name] = Subcloud.Health(cpuPercent: Double(index) / 10, memoryTotalBytes: 1 << 30, memoryAvailableBytes: UInt64(index) << 20,
                                              load1: nil, uptimeSeconds: UInt64(index), disks: [], reportedAt: Self.t0.addingTimeInterval(Double(index)))
            }
            try await store.recordHealth(batch)
            let rows = Dictionary(uniqueKeysWithValues: try await store.subclouds().map { ($0.name, $0) })
            for (index, name) in names.enumerated() {
                #expect(rows[name]?.health == batch[name], "\(name)")
                #expect(rows[name]?.lastSeenAt == Self.t0.addingTimeInterval(Double(index)), "\(name)")
            }
            // Seen marks move lastSeenAt forward only.
            try await store.markSeen(["edge-000", "edge-349"], at: Self.t0.addingTimeInterval(100))
            let first = try await store.subcloud(named: "edge-000"), last = try await store.subcloud(named: "edge-349")
            #expect(first?.lastSeenAt == Self.t0.addingTimeInterval(100))
            #expect(last?.lastSeenAt == Self.t0.addingTimeInterval(349))
        }
    }

    @Test("the registry survives reopening: migrations run once", arguments: StoreFixture.kinds)
    func reopen(_ kind: StoreFixture.Kind) async throws {
        try await Self.withStore(kind) { store, path in
            _ = try await store.createSubcloud(name: "edge-01", group: "Default", description: "kept", token: Self.token(), at: Self.t0)
            try await store.markOnline("edge-01", software: "tern-agent 0.2.0", at: Self.t0)
            let reopened = try await path.open()
            let subcloud = try await reopened.subcloud(named: "edge-01")
            #expect(subcloud?.description == "kept" && subcloud?.availability == .online && subcloud?.software == "tern-agent 0.2.0")
        }
    }

    @Test("a database the earlier GRDB migrator kept opens with its records and runs no migration twice")
    func upgradeFromGRDBMigrations() async throws {
        let fixture = try await StoreFixture(.sqlite)
        defer { fixture.remove() }
        let store = try await fixture.open()
        _ = try await store.createSubcloud(name: "edge-01", group: "Default", description: "from before", token: Self.token(), at: Self.t0)
        // As the previous release left it: the applied migrations in GRDB's table, none in ours.
        let backend = try SQLiteBackend(path: fixture.location)
        try await backend.write { db in
            try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY); INSERT INTO grdb_migrations SELECT identifier FROM schemaMigration; DROP TABLE schemaMigration")
        }
        let reopened = try await fixture.open()
        #expect(try await reopened.subcloud(named: "edge-01")?.description == "from before")
        let tables = try await backend.read { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%migration%'") }
        #expect(tables == ["schemaMigration"])
    }

    @Test("groups: Default exists, names are unique, a non-empty or Default group cannot be deleted", arguments: StoreFixture.kinds)
    func groups(_ kind: StoreFixture.Kind) async throws {
        try await Self.withStore(kind) { store, _ in
            #expect(try await store.groups().map(\.name) == ["Default"])
            let created = try await store.createGroup(SubcloudGroup(name: "retail-east", description: "", updateApplyType: .serial, maxParallel: 1))
            #expect(created.updateApplyType == .serial && created.subclouds == 0)
            await #expect(throws: FleetStoreError.self) { _ = try await store.createGroup(created) }
            _ = try await store.createSubcloud(name: "edge-01", group: "retail-east", description: "", token: Self.token(), at: Self.t0)
            await #expect(throws: FleetStoreError.self) { try await store.deleteGroup("retail-east") }
            await #expect(throws: FleetStoreError.self) { try await store.deleteGroup("Default") }
            #expect(try await store.group(named: "retail-east")?.subclouds == 1)
        }
    }
}
