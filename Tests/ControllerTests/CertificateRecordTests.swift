import Foundation
import TernTestSupport
import Testing
@testable import Controller

/// Certificates tracked by subcloud and tokens consumed only by success (issue 7,
/// items 2 and 5), on a real database file.
@Suite struct CertificateRecordTests {
    static let t0 = FleetStoreTests.t0

    static func certificate(_ serial: String, _ name: String = "edge-01", issued: Date = t0, days: Double = 30) -> IssuedCertificate {
        IssuedCertificate(serial: serial, subcloud: name, notBefore: issued, notAfter: issued.addingTimeInterval(days * 86_400))
    }

    /// edge-01 created with token "t1", enrolled with certificate c1 and connected with it once.
    static func enrolled(_ store: SQLFleetStore) async throws {
        _ = try await store.createSubcloud(name: "edge-01", group: "Default", description: "", token: FleetStoreTests.token("t1"), at: Self.t0)
        _ = try await store.enrol(tokenHash: "t1", certificate: Self.certificate("c1"), at: Self.t0)
        #expect(try await store.admit(serial: "c1", name: "edge-01", at: Self.t0) == nil)
    }

    @Test("every certificate ever issued to a deleted subcloud is refused, also after the name is added again", arguments: StoreFixture.kinds)
    func deleteRevokesAll(_ kind: StoreFixture.Kind) async throws {
        try await FleetStoreTests.withStore(kind) { store, _ in
            try await Self.enrolled(store)
            // Renewed (in the last third), but the new one not used yet: both still work.
            let late = Self.t0.addingTimeInterval(21 * 86_400)
            try await store.recordCertificate(Self.certificate("c2", issued: late), enrolment: false, at: late)
            #expect(try await store.admit(serial: "c1", name: "edge-01", at: late) == nil)
            // Delete, add again with the same name, enrol anew.
            try await store.deleteSubcloud("edge-01", at: late)
            _ = try await store.createSubcloud(name: "edge-01", group: "Default", description: "", token: FleetStoreTests.token("t2", expires: late.addingTimeInterval(3600)), at: late)
            _ = try await store.enrol(tokenHash: "t2", certificate: Self.certificate("c3", issued: late), at: late)
            for old in ["c1", "c2"] {
                let refusal = try await store.admit(serial: old, name: "edge-01", at: late)
                #expect(refusal?.contains("revoked") == true, "\(old): \(refusal ?? "admitted")")
            }
            #expect(try await store.admit(serial: "c3", name: "edge-01", at: late) == nil)
            // A serial this controller never issued to that name is refused too.
            #expect(try await store.admit(serial: "ffff", name: "edge-01", at: late)?.contains("not issued") == true)
        }
    }

    @Test("the previous certificate stops working once the renewed one has been used; an unused renewal is replaced by the next", arguments: StoreFixture.kinds)
    func renewalRetires(_ kind: StoreFixture.Kind) async throws {
        try await FleetStoreTests.withStore(kind) { store, _ in
            try await Self.enrolled(store)
            let late = Self.t0.addingTimeInterval(21 * 86_400)
            // Two renewals whose answers were lost: only the newest stays valid.
            try await store.recordCertificate(Self.certificate("c2", issued: late), enrolment: false, at: late)
            try await store.recordCertificate(Self.certificate("c3", issued: late), enrolment: false, at: late)
            #expect(try await store.isRevoked(serial: "c2"))
            #expect(try await store.admit(serial: "c1", name: "edge-01", at: late) == nil)
            // The agent reconnects with c3: c1 is retired.
            #expect(try await store.admit(serial: "c3", name: "edge-01", at: late) == nil)
            #expect(try await store.admit(serial: "c1", name: "edge-01", at: late)?.contains("revoked") == true)
            #expect(try await store.events(since: nil, limit: 50).map(\.kind).contains("certificate-retired"))
        }
    }

    @Test("renewal is honoured only in the last third of the validity")
    func renewalWindow() {
        let certificate = Self.certificate("c1", days: 30)
        #expect(!certificate.renewable(at: Self.t0))
        #expect(!certificate.renewable(at: Self.t0.addingTimeInterval(19 * 86_400)))
        #expect(certificate.renewable(at: Self.t0.addingTimeInterval(20 * 86_400 + 1)))
    }

    @Test("a failed attempt leaves the token usable; the fifth locks it; success consumes it once", arguments: StoreFixture.kinds)
    func tokenAttempts(_ kind: StoreFixture.Kind) async throws {
        try await FleetStoreTests.withStore(kind) { store, _ in
            _ = try await store.createSubcloud(name: "edge-01", group: "Default", description: "", token: FleetStoreTests.token("a"), at: Self.t0)
            _ = try await store.createSubcloud(name: "edge-02", group: "Default", description: "", token: FleetStoreTests.token("b"), at: Self.t0)
            for attempt in 1...4 {
                try await store.tokenAttemptFailed(hash: "a", reason: "bad CSR \(attempt)", at: Self.t0)
                #expect(try await store.enrolmentToken(hash: "a", at: Self.t0).name == "edge-01")
            }
            _ = try await store.enrol(tokenHash: "a", certificate: Self.certificate("c1"), at: Self.t0)
            await #expect(throws: EnrolmentRefusal.used) { _ = try await store.enrolmentToken(hash: "a", at: Self.t0) }
            await #expect(throws: EnrolmentRefusal.used) { _ = try await store.enrol(tokenHash: "a", certificate: Self.certificate("c9"), at: Self.t0) }

            for attempt in 1...5 { try await store.tokenAttemptFailed(hash: "b", reason: "bad CSR \(attempt)", at: Self.t0) }
            await #expect(throws: EnrolmentRefusal.locked) { _ = try await store.enrolmentToken(hash: "b", at: Self.t0) }
            await #expect(throws: EnrolmentRefusal.locked) { _ = try await store.enrol(tokenHash: "b", certificate: Self.certificate("c2", "edge-02"), at: Self.t0) }
            #expect(try await store.events(since: nil, limit: 50).map(\.kind).contains("token-locked"))
            // A new token unlocks enrolment.
            try await store.replaceToken(for: "edge-02", with: FleetStoreTests.token("b2"), at: Self.t0)
            #expect(try await store.enrolmentToken(hash: "b2", at: Self.t0).name == "edge-02")
        }
    }
}
