import Crypto
import Foundation
import NIOSSL
import Platform
import Wire
import X509

/// The agent's key and certificate, from its state directory.
///
/// `identity.pem` holds the certificate and the private key together, so that a
/// renewal replaces both with one atomic rename: a crash leaves the old pair or the
/// new one, never a certificate with the wrong key. The key is generated on the node
/// and never leaves it. `ca.pem` is the controller's CA; `controller` its address.
public struct AgentIdentity: Sendable {
    /// The subcloud name, from the certificate's common name.
    public let name: String
    public let notValidBefore: Date
    public let notValidAfter: Date
    let certificatePEM: String
    let keyPEM: String
    let caPEM: String

    public struct Missing: Error, CustomStringConvertible {
        public var path: String
        public var description: String { "\(self.path) is missing or unreadable: enrol this agent first (tern-agent enroll)" }
    }

    static func identityPath(_ state: String) -> String { state + "/identity.pem" }
    static func caPath(_ state: String) -> String { state + "/ca.pem" }
    static func controllerPath(_ state: String) -> String { state + "/controller" }

    public static func load(stateDirectory: String) throws -> AgentIdentity {
        let identityPath = Self.identityPath(stateDirectory)
        guard let identity = try AtomicFile.readString(identityPath) else { throw Missing(path: identityPath) }
        guard let caPEM = try AtomicFile.readString(Self.caPath(stateDirectory)) else { throw Missing(path: Self.caPath(stateDirectory)) }
        guard let certificatePEM = PEMBlock.first("CERTIFICATE", in: identity), let keyPEM = PEMBlock.first("PRIVATE KEY", in: identity) else {
            throw Missing(path: identityPath + " (needs a CERTIFICATE and a PRIVATE KEY block)")
        }
        let certificate = try Certificate(pemEncoded: certificatePEM)
        guard let name = certificate.subjectCommonName else { throw Missing(path: identityPath + " (certificate has no common name)") }
        return AgentIdentity(
            name: name, notValidBefore: certificate.notValidBefore, notValidAfter: certificate.notValidAfter,
            certificatePEM: certificatePEM, keyPEM: keyPEM, caPEM: caPEM
        )
    }

    /// Writes a key and its certificate as one file, atomically (mode 0600).
    public static func store(key: P256.Signing.PrivateKey, certificate: Certificate, stateDirectory: String) throws {
        let text = try certificate.serializeAsPEM().pemString + "\n" + key.pemRepresentation + "\n"
        try AtomicFile.write(text, to: Self.identityPath(stateDirectory), mode: 0o600)
    }

    /// The controller's wire address saved at enrolment (the first, if several are saved).
    public static func controllerAddress(stateDirectory: String) throws -> String? {
        try Self.controllerAddresses(stateDirectory: stateDirectory).first
    }

    /// The controller's wire addresses saved in the state directory: HOST:PORT on lines
    /// of their own (or separated by commas or spaces). Enrolment writes one; an
    /// operator may add a replica's.
    public static func controllerAddresses(stateDirectory: String) throws -> [String] {
        guard let text = try AtomicFile.readString(Self.controllerPath(stateDirectory)) else { return [] }
        return text.split(whereSeparator: { $0.isNewline || $0 == "," || $0 == " " }).map(String.init)
    }

    /// Renew once two thirds of the certificate's lifetime have passed.
    public func needsRenewal(at now: Date) -> Bool {
        let lifetime = self.notValidAfter.timeIntervalSince(self.notValidBefore)
        return now >= self.notValidBefore.addingTimeInterval(lifetime * 2 / 3)
    }

    /// The TLS configuration for the protocol port.
    public func tls() throws -> TLSConfiguration {
        TLSPolicy.client(
            certificateChain: [try NIOSSLCertificate(bytes: Array(self.certificatePEM.utf8), format: .pem)],
            privateKey: try NIOSSLPrivateKey(bytes: Array(self.keyPEM.utf8), format: .pem),
            trustRoots: [try NIOSSLCertificate(bytes: Array(self.caPEM.utf8), format: .pem)]
        )
    }
}

/// Finds PEM blocks in text.
enum PEMBlock {
    static func first(_ label: String, in text: String) -> String? {
        let begin = "-----BEGIN \(label)-----"
        let end = "-----END \(label)-----"
        guard let start = text.range(of: begin), let stop = text.range(of: end, range: start.upperBound..<text.endIndex) else { return nil }
        return String(text[start.lowerBound..<stop.upperBound]) + "\n"
    }
}

extension AgentIdentity: KeyMaterialRedacting {
    public var redactedDescription: String { "AgentIdentity(\(self.name), valid until \(self.notValidAfter), key redacted)" }
}
