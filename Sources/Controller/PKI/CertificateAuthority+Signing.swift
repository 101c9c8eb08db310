import Crypto
import Foundation
import SwiftASN1
import Wire
import X509

extension CertificateAuthority {
    /// Checks the CSR against the protocol's rules and issues a client certificate
    /// for `name` (never the CSR's own subject). Returns the certificate and its DER.
    public func sign(csr der: [UInt8], name: String, now: Date = Date(), validity: TimeInterval) throws -> (certificate: Certificate, der: [UInt8]) {
        let csr = try CertificateRequest.validated(der)
        let certificate = try self.issueClientCertificate(for: csr.publicKey, name: name, now: now, validity: validity)
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return (certificate, serializer.serializedBytes)
    }
}
