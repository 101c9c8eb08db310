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

/// Who gets past the protocol port's handshake, over real mutual TLS (issue 7,
/// items 2, 3 and 11): a peer speaking the protocol directly, as another implementation would.
@Suite(.serialized) struct AdmissionTests {
    typealias Connection = NIOAsyncChannel<WireEvent, WireCommand>

    /// A client certificate and key signed by the controller's CA with the subject given.
    static func clientCertificate(_ controller: ControllerApp, subject: DistinguishedName) throws -> (Certificate, P256.Signing.PrivateKey) {
        let caKey = try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: controller.configuration.dataDirectory + "/pki/ca-key.pem", encoding: .utf8))
        let key = P256.Signing.PrivateKey()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(3600),
            issuer: controller.pki.authority.certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                try ExtendedKeyUsage([.clientAuth])
            },
            issuerPrivateKey: .init(caKey)
        )
        return (certificate, key)
    }

    /// Connects to the protocol port with `certificate`, saying `identity` in HELLO.
    static func connect(_ controller: ControllerApp, certificate: Certificate, key: P256.Signing.PrivateKey, identity: String) async throws -> Connection {
        let tls = TLSPolicy.client(
            certificateChain: [try NIOSSLCertificate(bytes: try certificate.derBytes, format: .der)],
            privateKey: try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem),
            trustRoots: [try NIOSSLCertificate(bytes: try controller.pki.authority.certificate.derBytes, format: .der)]
        )
        let context = try NIOSSLContext(configuration: tls)
        var session = SessionConfiguration(identity: identity, software: "admission-test")
        session.handshakeTimeout = .seconds(5)
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: controller.wireServer.localAddress!.port!) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(WireConnectionHandler(role: .client, configuration: session, logger: quiet("test.peer")))
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// Runs the connection: every event until it ends, `react` returns true, or
    /// `limit` passes (then it is closed). `react` may write on the connection.
    static func events(
        of connection: Connection, limit: Duration = .seconds(5),
        react: @escaping @Sendable (WireEvent, NIOAsyncChannelOutboundWriter<WireCommand>) async throws -> Bool = { _, _ in false }
    ) async throws -> [WireEvent] {
        let channel = connection.channel
        let timer = Task {
            try await Task.sleep(for: limit)
            try? await channel.close()
        }
        defer { timer.cancel() }
        return try await connection.executeThenClose { inbound, outbound in
            var seen: [WireEvent] = []
            do {
                for try await event in inbound {
                    seen.append(event)
                    if try await react(event, outbound) { break }
                }
            } catch {}
            return seen
        }
    }

    static func registered(_ name: String, _ controller: ControllerApp) async throws -> (Certificate, P256.Signing.PrivateKey) {
        let (_, record) = BootstrapToken.make(validFor: 60)
        _ = try await controller.store.createSubcloud(name: name, group: SubcloudGroup.defaultName, description: "", token: record, at: Date())
        let (certificate, key) = try Self.clientCertificate(controller, subject: try DistinguishedName { OrganizationName("Tern"); CommonName(name) })
        try await controller.store.recordCertificate(IssuedCertificate(
            serial: certificate.serialHex, subcloud: name, notBefore: certificate.notValidBefore, notAfter: certificate.notValidAfter
        ), enrolment: true, at: Date())
        return (certificate, key)
    }

    @Test("a CA-signed certificate that names no subcloud is refused, whatever HELLO claims")
    func certificateWithoutName() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        try await withServices(controller.services) {
            _ = try await Self.registered("edge-01", controller)
            let (certificate, key) = try Self.clientCertificate(controller, subject: try DistinguishedName { OrganizationName("Tern") })
            let connection = try await Self.connect(controller, certificate: certificate, key: key, identity: "edge-01")
            let events = try await Self.events(of: connection)
            #expect(!events.contains { if case .established = $0 { return true } else { return false } }, "\(events)")
            #expect(await controller.live.count == 0)
        }
    }

    @Test("a certificate from before a delete and re-add is refused; the new one is let in")
    func oldCertificateAfterReAdd() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        try await withServices(controller.services) {
            let (old, oldKey) = try await Self.registered("edge-01", controller)
            try await controller.store.deleteSubcloud("edge-01", at: Date())
            let (new, newKey) = try await Self.registered("edge-01", controller)
            let refused = try await Self.events(of: try await Self.connect(controller, certificate: old, key: oldKey, identity: "edge-01"))
            let goAway = refused.compactMap { if case .goAway(let goAway) = $0 { return goAway } else { return nil } }.first
            #expect(goAway?.code == .unauthorized && goAway?.reason.contains("revoked") == true, "\(refused)")
            let admitted = try await Self.connect(controller, certificate: new, key: newKey, identity: "edge-01")
            // WELCOME comes before the admission check: stay connected a while to see no GOAWAY follow.
            let events = try await Self.events(of: admitted, limit: .seconds(1.5))
            #expect(events.contains { if case .established = $0 { return true } else { return false } })
            #expect(!events.contains { if case .goAway = $0 { return true } else { return false } }, "\(events)")
            #expect(try await controller.store.events(since: nil, limit: 50).map(\.kind).contains("online"))
        }
    }

    @Test("the newest connection of a subcloud wins; the older is sent CONNECTION_REPLACED and closed")
    func newestConnectionWins() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        try await withServices(controller.services) {
            let (certificate, key) = try await Self.registered("edge-01", controller)
            let first = try await Self.connect(controller, certificate: certificate, key: key, identity: "edge-01")
            let firstEvents = Task { try await Self.events(of: first, limit: .seconds(10)) }
            // The first is admitted before the second comes (on a loaded machine the two could cross).
            #expect(await eventually(timeout: .seconds(5)) { await controller.live.count == 1 })
            let second = try await Self.connect(controller, certificate: certificate, key: key, identity: "edge-01")
            let secondEvents = Task { try await Self.events(of: second, limit: .seconds(3)) }
            let seen = try await firstEvents.value
            let goAway = seen.compactMap { if case .goAway(let goAway) = $0 { return goAway } else { return nil } }.first
            #expect(goAway?.code == .connectionReplaced, "\(seen)")
            #expect(await controller.live.count == 1)
            // The second one is the live one and stays up.
            let later = try await secondEvents.value
            #expect(!later.contains { if case .goAway = $0 { return true } else { return false } }, "\(later)")
        }
    }

    @Test("RENEW_REQUEST before the last third of the validity is answered with the reason, no certificate")
    func earlyRenewalRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        try await withServices(controller.services) {
            let (certificate, key) = try await Self.registered("edge-01", controller)
            let connection = try await Self.connect(controller, certificate: certificate, key: key, identity: "edge-01")
            let csr = try CertificateRequest.make(for: P256.Signing.PrivateKey(), requestedName: "edge-01")
            let events = try await Self.events(of: connection) { event, outbound in
                switch event {
                case .established:
                    try await outbound.write(.message(.renewRequest(RenewRequest(csr: csr))))
                    return false
                case .message(_, .renewResponse, _):
                    return true
                default:
                    return false
                }
            }
            let response = events.compactMap { if case .message(_, .renewResponse(let response), _) = $0 { return response } else { return nil } }.first
            #expect(response?.certificate.isEmpty == true)
            #expect(response?.refusal.contains("last third") == true, "\(String(describing: response))")
            #expect(try await controller.store.subcloud(named: "edge-01")?.certificateSerial == certificate.serialHex)
        }
    }
}
