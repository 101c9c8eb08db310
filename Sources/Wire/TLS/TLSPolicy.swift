import NIOSSL

/// The TLS rules of PROTOCOL.md §2: TLS 1.3 only, ALPN required, and on the
/// protocol port a client certificate signed by the controller's CA.
public enum TLSPolicy {
    /// ALPN identifier of the protocol port (PROTOCOL.md §2.1).
    public static let protocolALPN = "tern/1"
    /// ALPN identifier of the enrolment port, the one place without a client certificate (PROTOCOL.md §2.2).
    public static let enrolmentALPN = "tern-enrol/1"

    /// The controller's protocol port: mutual TLS 1.3 against `trustRoots` (the CA).
    public static func server(
        certificateChain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey, trustRoots: [NIOSSLCertificate]
    ) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: certificateChain.map { .certificate($0) },
            privateKey: .privateKey(privateKey),
            trustRoots: .certificates(trustRoots)
        )
        // NIOSSL allows TLS 1.0 by default; PROTOCOL.md §2 requires 1.3.
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.applicationProtocols = [protocolALPN]
        return configuration
    }

    /// The controller's enrolment port: TLS 1.3, no client certificate.
    public static func enrolmentServer(certificateChain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificateChain.map { .certificate($0) },
            privateKey: .privateKey(privateKey)
        )
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.applicationProtocols = [enrolmentALPN]
        return configuration
    }

    /// An agent: trusts only the controller's CA and presents its client certificate.
    public static func client(
        certificateChain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey, trustRoots: [NIOSSLCertificate]
    ) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.trustRoots = .certificates(trustRoots)
        configuration.certificateChain = certificateChain.map { .certificate($0) }
        configuration.privateKey = .privateKey(privateKey)
        configuration.applicationProtocols = [protocolALPN]
        return configuration
    }
}
