import Foundation
import Platform
import SwiftASN1
import Wire
import X509

#if canImport(Glibc)
import Glibc
#endif

/// What an agent checks of the enrolment port's certificate chain before it sends a
/// single frame (PROTOCOL.md §2.2): the CA the operator pinned by fingerprint is in
/// the chain, it issued and signed the leaf, the leaf is a valid server certificate
/// now, and it names the host or address the agent dialled. The CA is not trusted
/// yet, so this replaces the usual chain building; nothing else is accepted.
public struct EnrolmentTrust: Sendable {
    /// SHA-256 of the CA certificate's DER, as `subcloud add` prints it.
    public let caFingerprint: ContentDigest
    /// The host or IP literal the agent dialled.
    public let host: String

    public init(caFingerprint: ContentDigest, host: String) {
        self.caFingerprint = caFingerprint
        self.host = host
    }

    /// Why the controller's certificate was refused, for the operator.
    public struct Refusal: Error, CustomStringConvertible, Equatable {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// Checks `chain` (DER, leaf first, as the server presented it); throws a refusal that says why.
    public func verify(chain: [[UInt8]], now: Date = Date()) throws(Refusal) {
        guard let leafDER = chain.first else { throw Refusal(description: "the server presented no certificate") }
        guard let caDER = chain.dropFirst().first(where: { ContentDigest(of: $0) == self.caFingerprint }) else {
            throw Refusal(description: "no certificate in the server's chain has the CA fingerprint \(self.caFingerprint)")
        }
        let leaf: Certificate
        let ca: Certificate
        do {
            leaf = try Certificate(derEncoded: leafDER)
            ca = try Certificate(derEncoded: caDER)
        } catch {
            throw Refusal(description: "the server's certificate chain cannot be parsed")
        }
        guard case .isCertificateAuthority? = try? ca.extensions.basicConstraints else {
            throw Refusal(description: "the pinned certificate is not a CA")
        }
        guard leaf.issuer == ca.subject, ca.publicKey.isValidSignature(leaf.signature, for: leaf) else {
            throw Refusal(description: "the server's certificate is not signed by the pinned CA")
        }
        guard leaf.notValidBefore <= now, now <= leaf.notValidAfter else {
            throw Refusal(description: "the server's certificate is not valid now (valid \(leaf.notValidBefore) to \(leaf.notValidAfter))")
        }
        if let usage = try? leaf.extensions.extendedKeyUsage, !usage.contains(.serverAuth) {
            throw Refusal(description: "the server's certificate is not for TLS servers")
        }
        guard self.leafNamesHost(leaf) else {
            throw Refusal(description: "the server's certificate does not name \(self.host)")
        }
    }

    /// RFC 6125 in its plain form: an exact DNS name (case-insensitive, no wildcards)
    /// or an exact IP address among the subject alternative names.
    private func leafNamesHost(_ leaf: Certificate) -> Bool {
        guard let names = try? leaf.extensions.subjectAlternativeNames else { return false }
        if let address = Self.addressBytes(self.host) {
            return names.contains { name in
                if case .ipAddress(let octets) = name { return Array(octets.bytes) == address }
                return false
            }
        }
        let wanted = self.host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        return names.contains { name in
            if case .dnsName(let dns) = name { return dns.lowercased() == wanted }
            return false
        }
    }

    /// The bytes of an IPv4 or IPv6 literal, nil for a name.
    static func addressBytes(_ host: String) -> [UInt8]? {
        if let v4 = IPv4Address(host) { return v4.bytes }
        guard host.contains(":") else { return nil }
        var storage = in6_addr()
        guard inet_pton(AF_INET6, host, &storage) == 1 else { return nil }
        return withUnsafeBytes(of: &storage) { Array($0) }
    }
}
