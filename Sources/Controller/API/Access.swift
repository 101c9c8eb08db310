import Foundation
import NIOConcurrencyHelpers
import Platform

/// A read-only token for people who watch the fleet (`token create --viewer`).
public struct ViewerToken: Codable, Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var createdAt: Date
}

/// What `token create` answers: the token is shown once, then only its hash is kept.
public struct ViewerTokenCreated: Codable, Sendable {
    public var token: String
    public var viewer: ViewerToken
}

public protocol ViewerTokenStore: Sendable {
    func addViewerToken(hash: String, name: String, at now: Date) async throws -> ViewerToken
    func viewerTokens() async throws -> [ViewerToken]
    /// Hash → id, for the in-memory check.
    func viewerTokenHashes() async throws -> [String: Int64]
    func revokeViewerToken(id: Int64, at now: Date) async throws
}

/// Who a request is: the operator (may change things) or a viewer (may only look).
public enum Role: String, Sendable, Codable {
    case `operator`
    case viewer
}

/// Checks API tokens and dashboard sessions. The operator token is compared in
/// constant time; viewer tokens by their SHA-256 (kept in memory, refreshed when one
/// is created or revoked); sessions are random 256-bit ids held only as their hash,
/// in memory, bounded in number and lifetime. A revoked viewer token ends the
/// sessions it opened.
public final class Access: Sendable {
    struct Session {
        var role: Role
        /// The viewer token it was opened with (nil: the operator token).
        var viewerID: Int64?
        var expiresAt: Date
    }

    private let operatorToken: String
    private let store: any ViewerTokenStore
    private let viewers = NIOLockedValueBox<[String: Int64]>([:])
    private let sessions = NIOLockedValueBox<[String: Session]>([:])
    /// How long a session lasts, and how many exist at most (the oldest go first).
    let sessionLifetime: TimeInterval
    let sessionLimit: Int

    public init(operatorToken: String, store: any ViewerTokenStore, sessionLifetime: TimeInterval = 12 * 3600, sessionLimit: Int = 10_000) {
        self.operatorToken = operatorToken
        self.store = store
        self.sessionLifetime = sessionLifetime
        self.sessionLimit = sessionLimit
    }

    /// Loads the viewer tokens' hashes.
    func load() async throws {
        let hashes = try await self.store.viewerTokenHashes()
        self.viewers.withLockedValue { $0 = hashes }
    }

    /// The role a presented token grants, with the viewer token's id; nil if none.
    func role(ofToken token: Substring) -> (Role, Int64?)? {
        if APIToken.matches(token, self.operatorToken) { return (.operator, nil) }
        let hash = BootstrapToken.hash(String(token))
        return self.viewers.withLockedValue { $0[hash] }.map { (.viewer, $0) }
    }

    /// The role of a session cookie's value; nil if unknown or expired.
    func role(ofSession id: Substring, now: Date = Date()) -> Role? {
        let key = BootstrapToken.hash(String(id))
        return self.sessions.withLockedValue { sessions in
            guard let session = sessions[key] else { return nil }
            guard session.expiresAt > now else {
                sessions[key] = nil
                return nil
            }
            return session.role
        }
    }

    /// Opens a session for a token; returns its id (for the cookie), or nil if the token is wrong.
    func openSession(token: Substring, now: Date = Date()) -> (id: String, role: Role)? {
        guard let (role, viewerID) = self.role(ofToken: token) else { return nil }
        let id = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64URLEncoded
        let session = Session(role: role, viewerID: viewerID, expiresAt: now.addingTimeInterval(self.sessionLifetime))
        self.sessions.withLockedValue { sessions in
            if sessions.count >= self.sessionLimit {
                sessions = sessions.filter { $0.value.expiresAt > now }
                while sessions.count >= self.sessionLimit, let oldest = sessions.min(by: { $0.value.expiresAt < $1.value.expiresAt }) {
                    sessions[oldest.key] = nil
                }
            }
            sessions[BootstrapToken.hash(id)] = session
        }
        return (id, role)
    }

    func closeSession(_ id: Substring) {
        let key = BootstrapToken.hash(String(id))
        _ = self.sessions.withLockedValue { $0.removeValue(forKey: key) }
    }

    // MARK: Viewer tokens

    public func createViewer(name: String, at now: Date = Date()) async throws -> ViewerTokenCreated {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= 64 else { throw FleetStoreError.invalid("a viewer token's name is 1 to 64 characters") }
        let (token, record) = BootstrapToken.make(validFor: 0, now: now)
        let viewer = try await self.store.addViewerToken(hash: record.hash, name: trimmed, at: now)
        self.viewers.withLockedValue { $0[record.hash] = viewer.id }
        return ViewerTokenCreated(token: token, viewer: viewer)
    }

    public func viewerTokens() async throws -> [ViewerToken] {
        try await self.store.viewerTokens()
    }

    public func revokeViewer(id: Int64, at now: Date = Date()) async throws {
        try await self.store.revokeViewerToken(id: id, at: now)
        self.viewers.withLockedValue { viewers in viewers = viewers.filter { $0.value != id } }
        self.sessions.withLockedValue { sessions in sessions = sessions.filter { $0.value.viewerID != id } }
    }
}

extension Access: KeyMaterialRedacting {
    public var redactedDescription: String { "Access(tokens and sessions redacted)" }
}

extension Data {
    var base64URLEncoded: String {
        self.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
