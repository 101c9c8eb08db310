import NIOSSL
import Wire
import X509

/// The agent's key and certificates, from its state directory: `agent-key.pem`
/// (never leaves the node), `agent.pem` (issued by the controller's CA), `ca.pem`.
public struct AgentIdentity: Sendable {
    /// The subcloud name, from the certificate's common name.
    public let name: String
    public let notValidAfter: Date
    let certificatePEM: String
    let keyPEM: String
    let caPEM: String

    public struct Missing: Error, CustomStringConvertible {
        public var path: String
        public var description: String { "\(self.path) is missing: enrol this agent first" }
    }

    public static func load(stateDirectory: String) throws -> AgentIdentity {
        func read(_ file: String) throws -> String {
            let path = stateDirectory + "/" + file
            guard let text = try AtomicFile.readString(path) else { throw Missing(path: path) }
            return text
        }
        let certificatePEM = try read("agent.pem")
        let certificate = try Certificate(pemEncoded: certificatePEM)
        guard let name = certificate.subjectCommonName else { throw Missing(path: stateDirectory + "/agent.pem (no common name)") }
        return AgentIdentity(
            name: name, notValidAfter: certificate.notValidAfter, certificatePEM: certificatePEM,
            keyPEM: try read("agent-key.pem"), caPEM: try read("ca.pem")
        )
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

import struct Foundation.Date
