import Crypto
import Foundation
import Wire

/// One-time bootstrap tokens: random, shown once to the operator, stored only as a hash.
public enum BootstrapToken {
    /// What the store keeps.
    public struct Record: Sendable, Equatable {
        public var hash: String
        public var expiresAt: Date
    }

    /// A new token and its record: `tern_` then 32 random bytes in URL-safe base64.
    /// The prefix keeps a token from ever starting with `-` (which a command line
    /// would read as an option) and lets secret scanners recognise it.
    public static func make(validFor lifetime: TimeInterval, now: Date = Date()) -> (token: String, record: Record) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let token = "tern_" + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return (token, Record(hash: self.hash(token), expiresAt: now.addingTimeInterval(lifetime)))
    }

    /// The stored form of a token.
    public static func hash(_ token: String) -> String {
        ContentDigest(of: Array(token.utf8)).hex
    }
}
