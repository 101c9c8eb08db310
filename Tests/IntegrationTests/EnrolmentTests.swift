import Agent
import Controller
import Crypto
import Foundation
import NIOSSL
import TernTestSupport
import Testing
import Wire
import X509

/// Enrolment against a man in the middle and against the real controller
/// (issue 7, item 1): the token is never sent to a server the pinned CA did not certify.
@Suite(.serialized) struct EnrolmentTests {
    /// A CA with the same name as the controller's, and a server certificate from it
    /// for 127.0.0.1: what an attacker on the path can make.
    static func impostor() throws -> (ca: CertificateAuthority, leaf: NIOSSLCertificate, key: NIOSSLPrivateKey) {
        let ca = try CertificateAuthority(name: "Tern fleet CA")
        let key = P256.Signing.PrivateKey()
        let leaf = try ca.issueServerCertificate(for: key.publicKey, hostnames: ["localhost"], ipAddresses: [[127, 0, 0, 1]])
        return (
            ca,
            try NIOSSLCertificate(bytes: Array(try leaf.serializeAsPEM().pemString.utf8), format: .pem),
            try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)
        )
    }

    func enroller(port: Int, token: String, fingerprint: Wire.Digest, state: String) -> Enroller {
        Enroller(controllerHost: "127.0.0.1", controllerPort: port, token: token, caFingerprint: fingerprint, stateDirectory: state, logger: quiet("test.enrol"))
    }

    @Test("a relay with its own chain, or with the real CA beside a leaf it signed itself, gets no byte; the token then enrols directly")
    func relaysAreRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        try await withServices(controller.services) {
            let (token, record) = BootstrapToken.make(validFor: 600)
            _ = try await controller.store.createSubcloud(name: "edge-01", group: SubcloudGroup.defaultName, description: "", token: record, at: Date())
            let fingerprint = try controller.pki.authority.fingerprint
            let enrolPort = controller.enrolmentServer.localAddress!.port!
            let realCA = try NIOSSLCertificate(bytes: Array(try controller.pki.authority.certificatePEM.utf8), format: .pem)
            let fake = try Self.impostor()
            let fakeCA = try NIOSSLCertificate(bytes: Array(try fake.ca.certificatePEM.utf8), format: .pem)

            let chains: [(String, [NIOSSLCertificate], String)] = [
                ("own chain", [fake.leaf, fakeCA], "no certificate in the server's chain has the CA fingerprint"),
                ("real CA in the chain, leaf signed by another key", [fake.leaf, realCA], "not signed by the pinned CA"),
            ]
            for (label, chain, expected) in chains {
                let relay = try await TLSRelay(chain: chain, key: fake.key, alpn: TLSPolicy.enrolmentALPN, targetPort: enrolPort)
                let state = directory.appending("agent-\(label.count)")
                do {
                    _ = try await self.enroller(port: relay.port, token: token, fingerprint: fingerprint, state: state).enrol()
                    Issue.record("\(label): enrolled through the relay")
                } catch let failure as Enroller.Failure {
                    #expect(failure.description.contains(expected), "\(label): \(failure)")
                    #expect(failure.description.contains("the token was not sent"))
                }
                #expect(relay.connections == 1, "\(label)")
                #expect(relay.plaintextFromClients == 0, "\(label): the relay read \(relay.plaintextFromClients) bytes")
                #expect(!FileManager.default.fileExists(atPath: state + "/identity.pem"))
                try await relay.close()
            }
            // The token is unused: it enrols against the real controller.
            let name = try await self.enroller(port: enrolPort, token: token, fingerprint: fingerprint, state: directory.appending("agent-real")).enrol()
            #expect(name == "edge-01")
            #expect(try await controller.store.subcloud(named: "edge-01")?.deployStatus == .enrolled)
        }
    }

    @Test("the controller's certificate must name the dialled host")
    func hostMustBeNamed() throws {
        let ca = try CertificateAuthority(name: "Tern fleet CA")
        let key = P256.Signing.PrivateKey()
        let leaf = try ca.issueServerCertificate(for: key.publicKey, hostnames: ["controller.example"], ipAddresses: [[127, 0, 0, 1]])
        let chain = [try leaf.derBytes, try ca.certificate.derBytes]
        let fingerprint = try ca.fingerprint
        try EnrolmentTrust(caFingerprint: fingerprint, host: "127.0.0.1").verify(chain: chain)
        try EnrolmentTrust(caFingerprint: fingerprint, host: "Controller.Example").verify(chain: chain)
        #expect(throws: EnrolmentTrust.Refusal(description: "the server's certificate does not name 127.0.0.2")) {
            try EnrolmentTrust(caFingerprint: fingerprint, host: "127.0.0.2").verify(chain: chain)
        }
        #expect(throws: EnrolmentTrust.Refusal.self) {
            try EnrolmentTrust(caFingerprint: fingerprint, host: "other.example").verify(chain: chain)
        }
        // Expired.
        #expect(throws: EnrolmentTrust.Refusal.self) {
            try EnrolmentTrust(caFingerprint: fingerprint, host: "127.0.0.1").verify(chain: chain, now: Date().addingTimeInterval(400 * 86_400))
        }
        // The leaf alone (the CA not presented) is not enough.
        #expect(throws: EnrolmentTrust.Refusal.self) {
            try EnrolmentTrust(caFingerprint: fingerprint, host: "127.0.0.1").verify(chain: [try leaf.derBytes])
        }
    }
}
