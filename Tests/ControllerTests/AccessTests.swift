import Foundation
import TernTestSupport
import Testing
@testable import Controller

/// Who may do what: the operator token, viewer tokens (by hash, revocable) and
/// dashboard sessions (random, bounded, expiring).
@Suite struct AccessTests {
    static func withAccess(_ body: (Access, SQLFleetStore) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLFleetStore(path: directory.appending("fleet.sqlite"))
        let access = Access(operatorToken: "tern_operator", store: store, sessionLifetime: 60, sessionLimit: 3)
        try await access.load()
        try await body(access, store)
    }

    @Test("the operator token and a viewer token grant their roles; a wrong one nothing; only the viewer's hash is stored")
    func tokens() async throws {
        try await Self.withAccess { access, store in
            #expect(access.role(ofToken: "tern_operator")?.0 == .operator)
            #expect(access.role(ofToken: "tern_operatoR") == nil)
            let made = try await access.createViewer(name: "noc")
            #expect(access.role(ofToken: made.token[...])?.0 == .viewer)
            let hashes = try await store.viewerTokenHashes()
            #expect(hashes.keys.contains(BootstrapToken.hash(made.token)) && !hashes.keys.contains(made.token))
            // A controller restart loads it again.
            let again = Access(operatorToken: "tern_operator", store: store)
            try await again.load()
            #expect(again.role(ofToken: made.token[...])?.0 == .viewer)
            await #expect(throws: FleetStoreError.self) { _ = try await access.createViewer(name: "  ") }
        }
    }

    @Test("a session has its token's role, ends at sign-out, at expiry, and when its viewer token is revoked; the oldest go past the limit")
    func sessions() async throws {
        try await Self.withAccess { access, _ in
            let now = Date()
            #expect(access.openSession(token: "wrong", now: now) == nil)
            let operatorSession = try #require(access.openSession(token: "tern_operator", now: now))
            #expect(operatorSession.id.count >= 43 && access.role(ofSession: operatorSession.id[...], now: now) == .operator)
            let viewer = try await access.createViewer(name: "wall screen")
            let viewerSession = try #require(access.openSession(token: viewer.token[...], now: now))
            #expect(access.role(ofSession: viewerSession.id[...], now: now) == .viewer)

            try await access.revokeViewer(id: viewer.viewer.id)
            #expect(access.role(ofSession: viewerSession.id[...], now: now) == nil)
            #expect(access.role(ofToken: viewer.token[...]) == nil)

            #expect(access.role(ofSession: operatorSession.id[...], now: now.addingTimeInterval(61)) == nil)
            let kept = try #require(access.openSession(token: "tern_operator", now: now))
            access.closeSession(kept.id[...])
            #expect(access.role(ofSession: kept.id[...], now: now) == nil)

            let sessions = (0..<4).compactMap { index in access.openSession(token: "tern_operator", now: now.addingTimeInterval(Double(index))) }
            #expect(access.role(ofSession: sessions[0].id[...], now: now.addingTimeInterval(5)) == nil)
            #expect(sessions[1...].allSatisfy { access.role(ofSession: $0.id[...], now: now.addingTimeInterval(5)) == .operator })
        }
    }
}
