import Crypto
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Wire
import X509

/// `tern-agent enroll`: makes the node's key, proves the one-time token over TLS to
/// a controller whose CA matches the fingerprint the operator gave, and stores the
/// signed certificate (PROTOCOL.md §2.2, §5.4).
public struct Enroller {
    public let controllerHost: String
    public let controllerPort: Int
    public let token: String
    public let caFingerprint: Wire.Digest
    public let stateDirectory: String
    public let logger: Logger

    public init(controllerHost: String, controllerPort: Int, token: String, caFingerprint: Wire.Digest, stateDirectory: String, logger: Logger) {
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
    public func enrol() async throws -> String {
        let key = P256.Signing.PrivateKey()
        let csr = try CertificateRequest.make(for: key, requestedName: "")
        let connection = try await self.connect()
        let response: EnrolResponse = try await connection.executeThenClose { events, commands in
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
        let certificate = try Certificate(derEncoded: response.certificate)
        let ca = try Certificate(derEncoded: response.caCertificate)
        guard Digest(of: response.caCertificate) == self.caFingerprint else {
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
        try AtomicFile.write(wire + "\n", to: AgentIdentity.controllerPath(self.stateDirectory))
        // Last: the identity file is what marks this node as enrolled.
        try AgentIdentity.store(key: key, certificate: certificate, stateDirectory: self.stateDirectory)
        self.logger.info("enrolled", metadata: ["subcloud": "\(response.subcloud)", "controller": "\(wire)", "not_after": "\(certificate.notValidAfter)"])
        return response.subcloud
    }

    private func connect() async throws -> NIOAsyncChannel<WireEvent, WireCommand> {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        tls.maximumTLSVersion = .tlsv13
        tls.applicationProtocols = [TLSPolicy.enrolmentALPN]
        // The CA is not trusted yet: the chain is checked against the fingerprint below instead.
        tls.certificateVerification = .none
        let context = try NIOSSLContext(configuration: tls)
        let fingerprint = self.caFingerprint
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
                            promise.completeWith(Result { try Self.verify(chain: chain, fingerprint: fingerprint, host: host) })
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

    /// Accepts the server only if its chain holds a CA with the expected fingerprint
    /// that signed the server's certificate.
    static func verify(chain: [NIOSSLCertificate], fingerprint: Wire.Digest, host: String) throws -> NIOSSLVerificationResult {
        guard let leaf = chain.first else { return .failed }
        let leafCertificate = try Certificate(derEncoded: try leaf.toDERBytes())
        for candidate in chain.dropFirst() {
            let der = try candidate.toDERBytes()
            guard Digest(of: der) == fingerprint else { continue }
            let ca = try Certificate(derEncoded: der)
            return ca.publicKey.isValidSignature(leafCertificate.signature, for: leafCertificate) ? .certificateVerified : .failed
        }
        return .failed
    }
}
