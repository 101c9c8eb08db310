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
}

extension CertificateAuthority {
    /// Verifies the CSR's self-signature and issues a client certificate for `name`
    /// (never the CSR's own subject). Returns the certificate and its DER.
    public func sign(csr der: [UInt8], name: String, now: Date = Date(), validity: TimeInterval) throws -> (certificate: Certificate, der: [UInt8]) {
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(derEncoded: der)
        } catch {
            throw CertificateRequest.Rejected(description: "the CSR is not valid DER PKCS#10")
        }
        // PROTOCOL.md §5.4: only keys the protocol port verifies end to end. An Ed25519 or
        // RSA certificate could be issued but its agent could never connect with it.
        guard P256.Signing.PublicKey(csr.publicKey) != nil || P384.Signing.PublicKey(csr.publicKey) != nil else {
            throw CertificateRequest.Rejected(description: "the CSR's key is not ECDSA P-256 or P-384 (the only key types the protocol port accepts)")
        }
        guard [.ecdsaWithSHA256, .ecdsaWithSHA384].contains(csr.signatureAlgorithm) else {
            throw CertificateRequest.Rejected(description: "the CSR is signed with \(csr.signatureAlgorithm), not ECDSA with SHA-256 or SHA-384")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw CertificateRequest.Rejected(description: "the CSR's signature does not match its key")
        }
        let certificate = try self.issueClientCertificate(for: csr.publicKey, name: name, now: now, validity: validity)
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return (certificate, serializer.serializedBytes)
    }
}

extension Certificate {
    /// The serial number as lowercase hex, as the registry stores it.
    public var serialHex: String {
        self.serialNumber.bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// The certificate in DER.
    public var derBytes: [UInt8] {
        get throws {
            var serializer = DER.Serializer()
            try serializer.serialize(self)
            return serializer.serializedBytes
        }
    }
}
