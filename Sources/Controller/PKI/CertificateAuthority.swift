import Crypto
import Foundation
import Platform
import SwiftASN1
import Wire
import X509

/// The controller's certificate authority: a P-256 key and a self-signed CA
/// certificate that signs the controller's server certificate and every agent's
/// short-lived client certificate.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    let key: P256.Signing.PrivateKey

    /// A new CA named `name`, valid ten years.
    public init(name: String, now: Date = Date()) throws {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("Tern")
            CommonName(name)
        }
        self.key = key
        self.certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(10 * 365 * 86_400),
            issuer: subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key)
        )
    }

    /// A CA loaded from its PEM certificate and PEM private key.
    public init(certificatePEM: String, keyPEM: String) throws {
        self.certificate = try Certificate(pemEncoded: certificatePEM)
        self.key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
    }

    public var certificatePEM: String { get throws { try self.certificate.serializeAsPEM().pemString } }
    public var keyPEM: String { self.key.pemRepresentation }

    /// SHA-256 of the CA certificate's DER: what an agent checks before it trusts the CA at enrolment.
    public var fingerprint: ContentDigest {
        get throws {
            var serializer = DER.Serializer()
            try serializer.serialize(self.certificate)
            return ContentDigest(of: serializer.serializedBytes)
        }
    }

    /// A server certificate for the controller's wire and API ports.
    public func issueServerCertificate(
        for key: P256.Signing.PublicKey, hostnames: [String], ipAddresses: [[UInt8]], now: Date = Date(),
        validity: TimeInterval = 365 * 86_400
    ) throws -> Certificate {
        var names: [GeneralName] = hostnames.map { .dnsName($0) }
        names += ipAddresses.map { .ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))) }
        return try self.issue(
            commonName: hostnames.first ?? "tern-controller", publicKey: .init(key), now: now, validity: validity,
            extendedKeyUsage: [.serverAuth], alternativeNames: names
        )
    }

    /// A client certificate naming subcloud `name`. The name comes from the enrolment
    /// record, never from a CSR (STYLE.md, PKI).
    public func issueClientCertificate(
        for key: Certificate.PublicKey, name: String, now: Date = Date(), validity: TimeInterval = 30 * 86_400
    ) throws -> Certificate {
        try self.issue(commonName: name, publicKey: key, now: now, validity: validity, extendedKeyUsage: [.clientAuth], alternativeNames: [])
    }

    private func issue(
        commonName: String, publicKey: Certificate.PublicKey, now: Date, validity: TimeInterval,
        extendedKeyUsage: [ExtendedKeyUsage.Usage], alternativeNames: [GeneralName]
    ) throws -> Certificate {
        try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(validity),
            issuer: self.certificate.subject,
            subject: try DistinguishedName {
                OrganizationName("Tern")
                CommonName(commonName)
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage(extendedKeyUsage)
                if !alternativeNames.isEmpty {
                    SubjectAlternativeNames(alternativeNames)
                }
                AuthorityKeyIdentifier(keyIdentifier: try? self.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(self.key)
        )
    }
}

extension CertificateAuthority: KeyMaterialRedacting {
    public var redactedDescription: String { "CertificateAuthority(\(self.certificate.subject), key redacted)" }
}
