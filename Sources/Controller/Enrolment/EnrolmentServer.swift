import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Wire
import X509

/// The enrolment port (PROTOCOL.md §2.2, §5.4): TLS without a client certificate,
/// one HELLO, one ENROL_REQUEST with a one-time token and a CSR, one signed
/// certificate back, then GOAWAY.
public struct EnrolmentServer: Service {
    private let serverChannel: NIOAsyncChannel<WireListener.Connection, Never>
    private let parts: Parts

    /// What enrolment uses, and nothing else.
    struct Parts: Sendable {
        let store: any PKIStore & AlarmStore
        let authority: CertificateAuthority
        let certificateValidity: TimeAmount
        let metrics: ControllerMetrics
        /// With replicas, the others' addresses go to enrolled agents.
        var leadership: Leadership = .alone()
        let logger: Logger
    }
    /// The protocol port enrolled agents are told to use.
    private let wirePort: Int
    /// Enrolment connections open now, against the cap.
    public let unauthenticated: UnauthenticatedConnections

    public var localAddress: SocketAddress? { self.serverChannel.channel.localAddress }

    static func bind(configuration: ControllerConfiguration, pki: ControllerPKI, parts: Parts, wirePort: Int) async throws -> EnrolmentServer {
        var session = configuration.session
        session.handshakeTimeout = .seconds(10)
        let unauthenticated = UnauthenticatedConnections(limit: configuration.maxUnauthenticatedConnections)
        let channel = try await WireListener.bind(
            host: configuration.enrolHost, port: configuration.enrolPort, tls: try pki.enrolmentTLS(),
            alpn: TLSPolicy.enrolmentALPN, session: session,
            unauthenticated: unauthenticated,
            release: .close, tlsDeadline: configuration.tlsHandshakeTimeout, lifetime: configuration.enrolmentLifetime,
            logger: parts.logger
        )
        return EnrolmentServer(serverChannel: channel, parts: parts, wirePort: wirePort, unauthenticated: unauthenticated)
    }

    public func run() async throws {
        self.parts.logger.info("enrolment server listening", metadata: ["address": "\(self.localAddress?.description ?? "?")"])
        try await withThrowingDiscardingTaskGroup { group in
            try await self.serverChannel.executeThenClose { connections in
                for try await connection in connections.cancelOnGracefulShutdown() {
                    group.addTask { await self.enrol(connection) }
                }
            }
        }
    }

    private func enrol(_ connection: WireListener.Connection) async {
        do {
            try await connection.executeThenClose { events, commands in
                for try await event in events {
                    guard case .wire(.message(let stream, let message, _)) = event else { continue }
                    // PROTOCOL.md §2.2: one exchange on stream 0; no streams, nothing else.
                    guard stream == 0, case .enrolRequest(let request) = message else {
                        try await commands.write(.goAway(.protocolError, reason: "only ENROL_REQUEST is allowed on the enrolment port"))
                        return
                    }
                    try await self.answer(request, commands: commands)
                    return
                }
            }
        } catch {
            self.parts.logger.info("enrolment connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// PROTOCOL.md §5.4: the token is checked, the CSR signed, and only then is the
    /// token consumed (with the certificate recorded in the same transaction). A bad CSR
    /// with a valid token counts as a failed attempt; the fifth locks the token.
    private func answer(_ request: EnrolRequest, commands: NIOAsyncChannelOutboundWriter<WireCommand>) async throws {
        let now = Date()
        let store = self.parts.store
        let tokenHash = BootstrapToken.hash(request.token)
        do {
            let subcloud = try await store.enrolmentToken(hash: tokenHash, at: now)
            let validity = Double(self.parts.certificateValidity.nanoseconds) / 1e9
            let signed: (certificate: Certificate, der: [UInt8])
            do {
                signed = try self.parts.authority.sign(csr: request.csr, name: subcloud.name, now: now, validity: validity)
            } catch let rejected as CertificateRequest.Rejected {
                try await store.tokenAttemptFailed(hash: tokenHash, reason: rejected.description, at: now)
                throw rejected
            }
            let certificate = signed.certificate
            _ = try await store.enrol(tokenHash: tokenHash, certificate: IssuedCertificate(
                serial: certificate.serialHex, subcloud: subcloud.name, notBefore: certificate.notValidBefore, notAfter: certificate.notValidAfter
            ), at: now)
            try await commands.write(.message(.enrolResponse(EnrolResponse(
                certificate: signed.der, caCertificate: try self.parts.authority.certificate.derBytes, subcloud: subcloud.name,
                notAfterMillis: UInt64(certificate.notValidAfter.timeIntervalSince1970 * 1000),
                wirePort: UInt32(self.wirePort), controllers: Array(self.parts.leadership.otherAddresses.prefix(EnrolResponse.maxControllers))
            ))))
            try await commands.write(.goAway(.noError, reason: "enrolled"))
            self.parts.metrics.enrolmentsAccepted.increment()
            self.parts.logger.info("subcloud enrolled", metadata: ["subcloud": "\(subcloud.name)", "serial": "\(certificate.serialHex)"])
        } catch let refusal as EnrolmentRefusal {
            try await self.refuse(refusal.description, commands: commands)
        } catch let rejected as CertificateRequest.Rejected {
            try await self.refuse(rejected.description, commands: commands)
        }
    }

    private func refuse(_ reason: String, commands: NIOAsyncChannelOutboundWriter<WireCommand>) async throws {
        self.parts.metrics.enrolmentsRefused.increment()
        self.parts.logger.warning("enrolment refused", metadata: ["reason": "\(reason)"])
        try await commands.write(.goAway(.enrolmentRefused, reason: reason))
    }
}
