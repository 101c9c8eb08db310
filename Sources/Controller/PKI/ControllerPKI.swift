import Foundation
import Crypto
import NIOSSL
import Platform
import Wire
import X509

/// The controller's CA and server certificate, kept as PEM files under `pki/` in
/// the data directory (keys mode 0600). Created on first start.
public struct ControllerPKI: Sendable {
    public let authority: CertificateAuthority
    public let serverCertificatePEM: String
    public let serverKeyPEM: String

    static func directory(_ dataDirectory: String) -> String { dataDirectory + "/pki" }

    /// Loads the PKI from `dataDirectory`, creating whatever is missing.
    public static func loadOrCreate(dataDirectory: String, serverNames: [String]) throws -> ControllerPKI {
        let directory = Self.directory(dataDirectory)
        try AtomicFile.makeDirectory(directory, mode: 0o700)
        let authority: CertificateAuthority
        if let certificate = try AtomicFile.readString(directory + "/ca.pem"), let key = try AtomicFile.readString(directory + "/ca-key.pem") {
            authority = try CertificateAuthority(certificatePEM: certificate, keyPEM: key)
        } else {
            authority = try CertificateAuthority(name: "Tern fleet CA")
            try AtomicFile.write(authority.keyPEM, to: directory + "/ca-key.pem", mode: 0o600)
            try AtomicFile.write(try authority.certificatePEM, to: directory + "/ca.pem", mode: 0o644)
        }
        if let certificate = try AtomicFile.readString(directory + "/server.pem"), let key = try AtomicFile.readString(directory + "/server-key.pem") {
            return ControllerPKI(authority: authority, serverCertificatePEM: certificate, serverKeyPEM: key)
        }
        let key = P256.Signing.PrivateKey()
        let hostnames = serverNames.filter { IPv4Address($0) == nil }
        let addresses = ["127.0.0.1"] + serverNames.filter { IPv4Address($0) != nil }
        let certificate = try authority.issueServerCertificate(
            for: key.publicKey, hostnames: hostnames.isEmpty ? ["localhost"] : hostnames,
            ipAddresses: addresses.compactMap { IPv4Address($0)?.bytes }
        )
        let certificatePEM = try certificate.serializeAsPEM().pemString
        try AtomicFile.write(key.pemRepresentation, to: directory + "/server-key.pem", mode: 0o600)
        try AtomicFile.write(certificatePEM, to: directory + "/server.pem", mode: 0o644)
        return ControllerPKI(authority: authority, serverCertificatePEM: certificatePEM, serverKeyPEM: key.pemRepresentation)
    }

    /// The TLS configuration of the protocol port.
    public func serverTLS() throws -> TLSConfiguration {
        TLSPolicy.server(
            certificateChain: [try NIOSSLCertificate(bytes: Array(self.serverCertificatePEM.utf8), format: .pem)],
            privateKey: try NIOSSLPrivateKey(bytes: Array(self.serverKeyPEM.utf8), format: .pem),
            trustRoots: [try NIOSSLCertificate(bytes: Array(try self.authority.certificatePEM.utf8), format: .pem)]
        )
    }

    /// The API over TLS (`--api-tls`): the server certificate, TLS 1.3, no client
    /// certificate (the bearer token authenticates each request).
    public func apiTLS() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(self.serverCertificatePEM.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(self.serverKeyPEM.utf8), format: .pem))
        )
        configuration.minimumTLSVersion = .tlsv13
        return configuration
    }

    /// The TLS configuration of the enrolment port: the CA certificate rides in the
    /// chain so that an agent can check it against the fingerprint it was given.
    public func enrolmentTLS() throws -> TLSConfiguration {
        TLSPolicy.enrolmentServer(
            certificateChain: [
                try NIOSSLCertificate(bytes: Array(self.serverCertificatePEM.utf8), format: .pem),
                try NIOSSLCertificate(bytes: Array(try self.authority.certificatePEM.utf8), format: .pem),
            ],
            privateKey: try NIOSSLPrivateKey(bytes: Array(self.serverKeyPEM.utf8), format: .pem)
        )
    }

    /// Issues a client certificate for `name` with a key made here, and writes the
    /// agent's state directory as enrolment would (`identity.pem`, `ca.pem`,
    /// `controller`); returns the certificate. For tests and benchmarks that skip
    /// enrolment: the caller registers the subcloud and its serial in the fleet store.
    @discardableResult
    public func provisionAgent(name: String, stateDirectory: String, controller: String, validity: TimeInterval = 30 * 86_400) throws -> Certificate {
        let key = P256.Signing.PrivateKey()
        let certificate = try self.authority.issueClientCertificate(
            for: .init(key.publicKey), name: name, validity: validity
        )
        try AtomicFile.makeDirectory(stateDirectory, mode: 0o700)
        let identity = try certificate.serializeAsPEM().pemString + "\n" + key.pemRepresentation + "\n"
        try AtomicFile.write(identity, to: stateDirectory + "/identity.pem", mode: 0o600)
        try AtomicFile.write(try self.authority.certificatePEM, to: stateDirectory + "/ca.pem")
        try AtomicFile.write(controller + "\n", to: stateDirectory + "/controller")
        return certificate
    }
}

extension ControllerPKI: KeyMaterialRedacting {
    public var redactedDescription: String { "ControllerPKI(keys redacted)" }
}
