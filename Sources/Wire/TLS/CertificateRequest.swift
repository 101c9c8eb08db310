import Crypto
import Foundation
import SwiftASN1
import X509

/// Certificate signing requests: made by an agent for a key it generated, signed by
/// the controller's CA for the name on the enrolment record.
public enum CertificateRequest {
    /// A PKCS#10 request in DER for `key`. The subject is informational only: the
    /// controller names the certificate from its own records (PROTOCOL.md §5.4).
    public static func make(for key: P256.Signing.PrivateKey, requestedName: String) throws -> [UInt8] {
        let csr = try CertificateSigningRequest(
            version: .v1,
            subject: try DistinguishedName { CommonName(requestedName.isEmpty ? "tern-agent" : requestedName) },
            privateKey: .init(key),
            attributes: .init(),
            signatureAlgorithm: .ecdsaWithSHA256
        )
        var serializer = DER.Serializer()
        try serializer.serialize(csr)
        return serializer.serializedBytes
    }

    /// Why a CSR was not signed.
    public struct Rejected: Error, CustomStringConvertible {
        public var description: String
    }

    /// Parses `der` and checks it against the protocol's rules (PROTOCOL.md §5.4):
    /// a PKCS#10 request for an ECDSA P-256 or P-384 key, signed with SHA-256 or
    /// SHA-384 by that key. The only keys the protocol port verifies end to end: an
    /// Ed25519 or RSA certificate could be issued but its agent could never connect.
    public static func validated(_ der: [UInt8]) throws -> CertificateSigningRequest {
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(derEncoded: der)
        } catch {
            throw Rejected(description: "the CSR is not valid DER PKCS#10")
        }
        guard P256.Signing.PublicKey(csr.publicKey) != nil || P384.Signing.PublicKey(csr.publicKey) != nil else {
            throw Rejected(description: "the CSR's key is not ECDSA P-256 or P-384 (the only key types the protocol port accepts)")
        }
        guard [.ecdsaWithSHA256, .ecdsaWithSHA384].contains(csr.signatureAlgorithm) else {
            throw Rejected(description: "the CSR is signed with \(csr.signatureAlgorithm), not ECDSA with SHA-256 or SHA-384")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw Rejected(description: "the CSR's signature does not match its key")
        }
        return csr
    }
}

