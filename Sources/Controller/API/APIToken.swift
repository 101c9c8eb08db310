import Foundation
import Platform
import Wire

/// The operator API's bearer token: made on first start, kept in the data directory
/// with mode 0600, read by the CLI from there unless `--token` is given.
public enum APIToken {
    public static func loadOrCreate(path: String) throws -> String {
        if let existing = try AtomicFile.readString(path)?.trimmingCharacters(in: .whitespacesAndNewlines), !existing.isEmpty {
            return existing
        }
        let (token, _) = BootstrapToken.make(validFor: 0)
        try AtomicFile.write(token + "\n", to: path, mode: 0o600)
        return token
    }

    /// Compares in time independent of where the strings differ.
    static func matches(_ presented: Substring, _ expected: String) -> Bool {
        let a = Array(presented.utf8)
        let b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
