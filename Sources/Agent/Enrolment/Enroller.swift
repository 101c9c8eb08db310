import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Platform
import Wire
import X509

/// `tern-agent enroll`: makes the node's key, proves the one-time token over TLS to
/// a controller whose CA matches the fingerprint the operator gave, and stores the
/// signed certificate (PROTOCOL.md §2.2, §5.4).
public struct Enroller {
    public let controllerHost: String
    public let controllerPort: Int
    public let token: String
    public let caFingerprint: ContentDigest
    public let stateDirectory: String
    public let logger: Logger

    public init(controllerHost: String, controllerPort: Int, token: String, caFingerprint: ContentDigest, stateDirectory: String, logger: Logger) {
        self.controllerHost = controllerHost
        self.controllerPort = controllerPort
        self.token = token
        self.caFingerprint = caFingerprint
        self.stateDirectory = stateDirectory
        self.logger = logger
    }

    /// Why enrolment failed, for the operator.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Enrols and returns the subcloud name the controller issued the certificate to.
    /// The token goes out only after the controller's chain passed `EnrolmentTrust`.
    public func enrol() async throws -> String {
        let key = P256.Signing.PrivateKey()
        let csr = try CertificateRequest.make(for: key, requestedName: "")
        let refusal = NIOLockedValueBox<EnrolmentTrust.Refusal?>(nil)
        let response: EnrolResponse
        do {
            let connection = try await self.connect(refusal: refusal)
            response = try await connection.executeThenClose { events, commands in
                for try await event in events {
                    switch event {
                    case .established:
                        try await commands.write(.message(.enrolRequest(EnrolRequest(token: self.token, csr: csr))))
                    case .message(0, .enrolResponse(let response), _):
                        return response
                    case .goAway(let goAway) where goAway.code != .noError:
                        throw Failure(description: "the controller refused enrolment: \(goAway.reason) (\(goAway.code))")
                    default:
                        break
                    }
                }
                throw Failure(description: "the controller closed the connection without a certificate")
            }
        } catch {
            // A refused chain surfaces as a TLS handshake error: say why instead.
            if let refused = refusal.withLockedValue({ $0 }) {
                throw Failure(description: "refusing the controller at \(self.controllerHost):\(self.controllerPort): \(refused); the token was not sent")
            }
            throw error
        }
        let certificate = try Certificate(derEncoded: response.certificate)
        let ca = try Certificate(derEncoded: response.caCertificate)
        guard ContentDigest(of: response.caCertificate) == self.caFingerprint else {
            throw Failure(description: "the CA certificate in the response does not match the fingerprint")
        }
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw Failure(description: "the certificate is not for the key this node generated")
        }
        guard ca.publicKey.isValidSignature(certificate.signature, for: certificate) else {
            throw Failure(description: "the certificate is not signed by the controller's CA")
        }
        try AtomicFile.makeDirectory(self.stateDirectory, mode: 0o700)
        try AtomicFile.write(try ca.serializeAsPEM().pemString, to: AgentIdentity.caPath(self.stateDirectory))
        let wire = "\(self.controllerHost.contains(":") ? "[\(self.controllerHost)]" : self.controllerHost):\(response.wirePort == 0 ? 7447 : Int(response.wirePort))"
        // The controller enrolled through first, then any replicas it named (PROTOCOL.md §10.17).
        var addresses = [wire]
        for other in response.controllers where !addresses.contains(other) && (try? HostPort.parse(other)) != nil { addresses.append(other) }
        try AtomicFile.write(addresses.joined(separator: "\n") + "\n", to: AgentIdentity.controllerPath(self.stateDirectory))
        // Last: the identity file is what marks this node as enrolled.
        try AgentIdentity.store(key: key, certificate: certificate, stateDirectory: self.stateDirectory)
        self.logger.info("enrolled", metadata: ["subcloud": "\(response.subcloud)", "controller": "\(wire)", "not_after": "\(certificate.notValidAfter)"])
        return response.subcloud
    }

    private func connect(refusal: NIOLockedValueBox<EnrolmentTrust.Refusal?>) async throws -> NIOAsyncChannel<WireEvent, WireCommand> {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        tls.maximumTLSVersion = .tlsv13
        tls.applicationProtocols = [TLSPolicy.enrolmentALPN]
        // Verification stays on, so the custom callback below runs and replaces chain
        // building: the CA is not in any trust store yet, it is pinned by fingerprint.
        // (With `.none`, swift-nio-ssl never calls the callback.) The host name is
        // checked by `EnrolmentTrust`, which also covers IP literals.
        tls.certificateVerification = .noHostnameVerification
        // No system trust store either: a node booted from a boot image has none
        // (/etc/ssl is absent), and the pinned CA is all that is trusted anyway.
        tls.trustRoots = .certificates([])
        let context = try NIOSSLContext(configuration: tls)
        let trust = EnrolmentTrust(caFingerprint: self.caFingerprint, host: self.controllerHost)
        let host = self.controllerHost
        let session = SessionConfiguration(identity: "", software: "tern-agent \(AgentVersion.current)")
        let logger = self.logger
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: host, port: self.controllerPort) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try NIOSSLClientHandler(
                        context: context, serverHostname: HostPort.isIPLiteral(host) ? nil : host,
                        customVerificationCallback: { chain, promise in
                            do {
                                try trust.verify(chain: try chain.map { try $0.toDERBytes() })
                                promise.succeed(.certificateVerified)
                            } catch let refused as EnrolmentTrust.Refusal {
                                refusal.withLockedValue { $0 = refused }
                                promise.succeed(.failed)
                            } catch {
                                refusal.withLockedValue { $0 = EnrolmentTrust.Refusal(description: "the server's chain cannot be read") }
                                promise.succeed(.failed)
                            }
                        }
                    )
                    try channel.pipeline.syncOperations.addHandler(handler)
                    try channel.pipeline.syncOperations.addHandler(
                        WireConnectionHandler(role: .client, configuration: session, alpn: TLSPolicy.enrolmentALPN, logger: logger)
                    )
                    return try NIOAsyncChannel<WireEvent, WireCommand>(wrappingChannelSynchronously: channel)
                }
            }
    }
}

extension Enroller: KeyMaterialRedacting {
    public var redactedDescription: String { "Enroller(\(self.controllerHost):\(self.controllerPort), token redacted)" }
}
