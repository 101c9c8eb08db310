import Agent
import Controller
import Crypto
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SwiftASN1
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

    func enroller(port: Int, token: String, fingerprint: ContentDigest, state: String) -> Enroller {
        Enroller(controllerHost: "127.0.0.1", controllerPort: port, token: token, caFingerprint: fingerprint, stateDirectory: state, logger: quiet("test.enrol"))
    }

    @Test("a relay with its own chain, or with the real CA beside a leaf it signed itself, gets no byte; the token then enrols directly")
    func relaysAreRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // Heartbeat 1 s: the enrolment idle timeout (4 heartbeats) must outlast key generation on a loaded machine.
        let controller = try await makeController(directory, heartbeat: .seconds(1))
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

extension EnrolmentTests {
    /// Sends one ENROL_REQUEST with `csr` and returns the GOAWAY that answered it (nil: a certificate came back).
    func enrolRaw(port: Int, token: String, csr: [UInt8]) async throws -> GoAway? {
        try await self.enrolPort(port, send: .message(.enrolRequest(EnrolRequest(token: token, csr: csr))))
    }

    /// Sends `command` once the handshake is done; returns the GOAWAY that answered it (nil: a certificate came back).
    func enrolPort(_ port: Int, send command: WireCommand) async throws -> GoAway? {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        tls.applicationProtocols = [TLSPolicy.enrolmentALPN]
        tls.certificateVerification = .none
        let context = try NIOSSLContext(configuration: tls)
        let session = SessionConfiguration(identity: "", software: "raw-enrol-test")
        let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(WireConnectionHandler(role: .client, configuration: session, alpn: TLSPolicy.enrolmentALPN, logger: quiet("raw")))
                    return try NIOAsyncChannel<WireEvent, WireCommand>(wrappingChannelSynchronously: channel)
                }
            }
        return try await connection.executeThenClose { events, commands in
            for try await event in events {
                switch event {
                case .established: try await commands.write(command)
                case .message(0, .enrolResponse, _): return nil
                case .goAway(let goAway): return goAway
                default: break
                }
            }
            return GoAway(lastStreamID: 0, code: .internalError, reason: "closed without an answer")
        }
    }

    static func ed25519CSR() throws -> [UInt8] {
        let csr = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName("edge") }, privateKey: .init(Curve25519.Signing.PrivateKey()),
            attributes: .init(), signatureAlgorithm: .ed25519
        )
        var serializer = DER.Serializer()
        try serializer.serialize(csr)
        return serializer.serializedBytes
    }

    @Test("an Ed25519 or malformed CSR is refused with the reason and leaves the token usable; five failures lock it")
    func badRequestsAndLocking() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        try await withServices(controller.services) {
            let port = controller.enrolmentServer.localAddress!.port!
            let fingerprint = try controller.pki.authority.fingerprint
            let (token, record) = BootstrapToken.make(validFor: 600)
            _ = try await controller.store.createSubcloud(name: "edge-01", group: SubcloudGroup.defaultName, description: "", token: record, at: Date())
            let ed25519 = try await self.enrolRaw(port: port, token: token, csr: try Self.ed25519CSR())
            #expect(ed25519?.code == .enrolmentRefused)
            #expect(ed25519?.reason.contains("P-256 or P-384") == true, "\(String(describing: ed25519))")
            let garbage = try await self.enrolRaw(port: port, token: token, csr: [0x30, 0x03, 0x02, 0x01, 0x00])
            #expect(garbage?.reason.contains("not valid DER PKCS#10") == true, "\(String(describing: garbage))")
            // The token survived both: a P-256 key enrols with it.
            let name = try await self.enroller(port: port, token: token, fingerprint: fingerprint, state: directory.appending("agent-1")).enrol()
            #expect(name == "edge-01")

            // A second subcloud's token, five bad attempts: locked, even for a good request.
            let (token2, record2) = BootstrapToken.make(validFor: 600)
            _ = try await controller.store.createSubcloud(name: "edge-02", group: SubcloudGroup.defaultName, description: "", token: record2, at: Date())
            for _ in 0..<5 { _ = try await self.enrolRaw(port: port, token: token2, csr: try Self.ed25519CSR()) }
            do {
                _ = try await self.enroller(port: port, token: token2, fingerprint: fingerprint, state: directory.appending("agent-2")).enrol()
                Issue.record("a locked token enrolled")
            } catch let failure as Enroller.Failure {
                #expect(failure.description.contains("locked"), "\(failure)")
            }
            #expect(try await controller.store.subcloud(named: "edge-02")?.deployStatus == .awaitingEnrolment)

            // PROTOCOL.md §2.2: no streams and nothing but the exchange on the enrolment port.
            let stream = try await self.enrolPort(port, send: .openStream(.transferRequest(TransferRequest(digest: nil, firstBlock: 0))))
            #expect(stream?.code == .protocolError, "\(String(describing: stream))")
            let heartbeat = try await self.enrolPort(port, send: .message(.heartbeat(Heartbeat(sequence: 1, sentAtMillis: 1))))
            #expect(heartbeat?.code == .protocolError, "\(String(describing: heartbeat))")
        }
    }
}
