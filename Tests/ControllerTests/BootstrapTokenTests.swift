import Foundation
import Testing

@testable import Controller

@Suite("Bootstrap tokens")
struct BootstrapTokenTests {
    @Test("a token is safe on a command line: never starts with '-', URL-safe characters only, unique, stored as a hash")
    func commandLineSafe() {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var seen = Set<String>()
        // A base64url token starts with '-' once in 64 draws; 2,000 draws would find it.
        for _ in 0..<2_000 {
            let (token, record) = BootstrapToken.make(validFor: 60)
            #expect(!token.hasPrefix("-"))
            #expect(token.allSatisfy { allowed.contains($0) })
            #expect(record.hash == BootstrapToken.hash(token) && record.hash != token)
            seen.insert(token)
        }
        #expect(seen.count == 2_000)
    }
}
