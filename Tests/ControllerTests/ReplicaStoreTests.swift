import Foundation
import NIOConcurrencyHelpers
import TernTestSupport
import Testing
@testable import Controller

/// Two stores on one PostgreSQL database, as two controller replicas open it: what one
/// commits reaches the other's change feed, nudges go to the others only, one replica
/// holds the lease at a time and another takes it once it expires, and a subcloud added
/// on both at once exists once.
@Suite(.enabled(if: StoreFixture.kinds.contains(.postgres), "needs PostgreSQL (TERN_POSTGRES_URL)"))
struct ReplicaStoreTests {
    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    static func token() -> BootstrapToken.Record { BootstrapToken.Record(hash: UUID().uuidString, expiresAt: t0.addingTimeInterval(3600)) }

    @Test("a commit on one replica reaches the other's change feed with the subcloud rows it wrote; nudges go to the other replica only")
    func notifications() async throws {
        let fixture = try await StoreFixture(.postgres)
        let one = try await fixture.open()
        let two = try await fixture.open()
        _ = two.changes.take()
        _ = try await one.createSubcloud(name: "edge-01", group: "Default", description: "", token: Self.token(), at: Self.t0)
        let rowID = try #require(try await one.fleetRows(rowIDs: nil).first?.rowID)
        let seen = await eventually(timeout: .seconds(5)) {
            let pending = two.changes.take()
            return pending.subclouds.contains(rowID) && pending.tables.contains("event")
        }
        #expect(seen, "the other replica did not hear of the new subcloud")

        try await one.deleteSubcloud("edge-01", at: Self.t0)
        let deleted = await eventually(timeout: .seconds(5)) { two.changes.take().deletedSubclouds.contains(rowID) }
        #expect(deleted)

        let heardByOne = NIOLockedValueBox<[String]>([])
        let heardByTwo = NIOLockedValueBox<[String]>([])
        one.onNudge { names in heardByOne.withLockedValue { $0 += names } }
        two.onNudge { names in heardByTwo.withLockedValue { $0 += names } }
        try await one.nudge(["edge-07", "edge-08"])
        let nudged = await eventually(timeout: .seconds(5)) { heardByTwo.withLockedValue { $0 } == ["edge-07", "edge-08"] }
        #expect(nudged)
        try await Task.sleep(for: .milliseconds(200))
        #expect(heardByOne.withLockedValue { $0 }.isEmpty, "a replica acted on its own nudge")
    }

    @Test("one replica holds the lease; the other takes it only once it has expired or was given up")
    func lease() async throws {
        let fixture = try await StoreFixture(.postgres)
        let one = try await fixture.open()
        let two = try await fixture.open()
        #expect(try await one.acquireLease("background", holder: "one", for: 10, at: Self.t0) == "one")
        #expect(try await two.acquireLease("background", holder: "two", for: 10, at: Self.t0.addingTimeInterval(5)) == "one")
        #expect(try await one.acquireLease("background", holder: "one", for: 10, at: Self.t0.addingTimeInterval(8)) == "one", "renewal")
        #expect(try await two.acquireLease("background", holder: "two", for: 10, at: Self.t0.addingTimeInterval(17)) == "one", "renewed until 18")
        #expect(try await two.acquireLease("background", holder: "two", for: 10, at: Self.t0.addingTimeInterval(19)) == "two", "expired")
        try await two.releaseLease("background", holder: "two")
        #expect(try await one.acquireLease("background", holder: "one", for: 10, at: Self.t0.addingTimeInterval(20)) == "one", "given up")
    }

    @Test("the same subcloud added on two replicas at once exists once: one add succeeds, the other is a conflict")
    func concurrentAdd() async throws {
        let fixture = try await StoreFixture(.postgres)
        let one = try await fixture.open()
        let two = try await fixture.open()
        for round in 0..<10 {
            let name = "edge-\(round)"
            async let first: Result<Subcloud, any Error> = Result(catching: { try await one.createSubcloud(name: name, group: "Default", description: "", token: Self.token(), at: Self.t0) })
            async let second: Result<Subcloud, any Error> = Result(catching: { try await two.createSubcloud(name: name, group: "Default", description: "", token: Self.token(), at: Self.t0) })
            let results = await [first, second]
            let made = results.filter { if case .success = $0 { return true } else { return false } }.count
            #expect(made == 1, "round \(round): \(results)")
            for case .failure(let error) in results {
                #expect((error as? FleetStoreError)?.kind == .conflict, "\(error)")
            }
        }
        #expect(try await one.subclouds().count == 10)
    }

    /// Six replicas enrolling thousands of agents each made SERIALIZABLE conflicts on
    /// every table they share; ten quick retries were not enough and adds failed with
    /// 40001. Distinct adds from many writers on six replicas must all succeed.
    @Test("many distinct subclouds added at once from six replicas, four writers each: every add succeeds")
    func contendedAdds() async throws {
        let fixture = try await StoreFixture(.postgres)
        var stores: [SQLFleetStore] = []
        for _ in 0..<6 { stores.append(try await fixture.open()) }
        let failures = try await withThrowingTaskGroup(of: [String].self) { group in
            for writer in 0..<24 {
                let store = stores[writer % stores.count]
                group.addTask {
                    var failed: [String] = []
                    for index in 0..<30 {
                        let name = "w\(writer)-\(index)"
                        do {
                            _ = try await store.createSubcloud(name: name, group: "Default", description: "", token: Self.token(), at: Self.t0)
                            try await store.replaceToken(for: name, with: Self.token(), at: Self.t0)
                            try await store.markOnline(name, software: "1.0", at: Self.t0.addingTimeInterval(Double(index)))
                            // As SeenFlush does: every site this writer holds, in one statement.
                            try await store.markSeen((0...index).map { "w\(writer)-\($0)" }, at: Self.t0.addingTimeInterval(Double(index)))
                        } catch {
                            failed.append("\(name): \(error)")
                        }
                    }
                    return failed
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(failures.isEmpty, "\(failures.count) failed: \(failures.prefix(3))")
        #expect(try await stores[1].subclouds().count == 720)
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
