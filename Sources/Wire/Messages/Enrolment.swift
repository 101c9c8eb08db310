/// ENROL_REQUEST: a one-time token and a CSR, on the enrolment port only (PROTOCOL.md §5.4, §10.16).
public struct EnrolRequest: Hashable, Sendable, FieldCoded {
    /// The bootstrap token from `subcloud add` (field 1).
    public var token: String
    /// PKCS#10 request in DER; its key was generated on the site (field 2).
    public var csr: [UInt8]

    public init(token: String, csr: [UInt8]) {
        self.token = token
        self.csr = csr
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(token: "", csr: [])
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.token = try field.string(max: 256)
            case 2: self.csr = try field.byteArray(max: WireLimits.maxCertificateBytes)
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.string(1, self.token)
        fields.bytes(2, self.csr)
    }
}

/// ENROL_RESPONSE: the signed client certificate (PROTOCOL.md §10.17).
public struct EnrolResponse: Hashable, Sendable, FieldCoded {
    /// The agent's certificate, DER (field 1).
    public var certificate: [UInt8]
    /// The controller's CA certificate, DER (field 2).
    public var caCertificate: [UInt8]
    /// The subcloud name the certificate was issued to (field 3).
    public var subcloud: String
    /// Expiry, Unix milliseconds (field 4).
    public var notAfterMillis: UInt64
    /// The protocol port to connect to from now on, on the host enrolment used (field 5).
    public var wirePort: UInt32
    /// Other controller replicas' protocol addresses, HOST:PORT (field 6, repeated, ≤ 16).
    public var controllers: [String]

    public static let maxControllers = 16

    public init(certificate: [UInt8], caCertificate: [UInt8], subcloud: String, notAfterMillis: UInt64, wirePort: UInt32, controllers: [String] = []) {
        self.certificate = certificate
        self.caCertificate = caCertificate
        self.subcloud = subcloud
        self.notAfterMillis = notAfterMillis
        self.wirePort = wirePort
        self.controllers = controllers
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(certificate: [], caCertificate: [], subcloud: "", notAfterMillis: 0, wirePort: 0)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.certificate = try field.byteArray(max: WireLimits.maxCertificateBytes)
            case 2: self.caCertificate = try field.byteArray(max: WireLimits.maxCertificateBytes)
            case 3: self.subcloud = try field.string(max: 255)
            case 4: self.notAfterMillis = try field.uint64()
            case 5: self.wirePort = try field.uint32()
            case 6:
                guard self.controllers.count < Self.maxControllers else { throw WireError.malformed("ENROL_RESPONSE names more than \(Self.maxControllers) controllers") }
                self.controllers.append(try field.string(max: 300))
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.bytes(1, self.certificate)
        fields.bytes(2, self.caCertificate)
        fields.string(3, self.subcloud)
        fields.varint(4, self.notAfterMillis)
        fields.varint(5, self.wirePort)
        for address in self.controllers { fields.string(6, address) }
    }
}

/// RENEW_REQUEST: a fresh CSR over the mutual-TLS channel (PROTOCOL.md §10.18).
public struct RenewRequest: Hashable, Sendable, FieldCoded {
    /// Field 1.
    public var csr: [UInt8]

    public init(csr: [UInt8]) { self.csr = csr }

    init(fields: FieldReader, depth: Int) throws {
        self.init(csr: [])
        var fields = fields
        while let field = try fields.next() {
            if field.number == 1 { self.csr = try field.byteArray(max: WireLimits.maxCertificateBytes) }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.bytes(1, self.csr)
    }
}

/// RENEW_RESPONSE: the renewed certificate (PROTOCOL.md §10.19).
public struct RenewResponse: Hashable, Sendable, FieldCoded {
    /// Field 1. Empty when refused.
    public var certificate: [UInt8]
    /// Field 2.
    public var notAfterMillis: UInt64
    /// Field 3: why the renewal was refused (PROTOCOL.md §10.19); empty when granted.
    public var refusal: String

    public init(certificate: [UInt8], notAfterMillis: UInt64, refusal: String = "") {
        self.certificate = certificate
        self.notAfterMillis = notAfterMillis
        self.refusal = refusal
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(certificate: [], notAfterMillis: 0)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.certificate = try field.byteArray(max: WireLimits.maxCertificateBytes)
            case 2: self.notAfterMillis = try field.uint64()
            case 3: self.refusal = try field.string(max: 1024)
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.bytes(1, self.certificate)
        fields.varint(2, self.notAfterMillis)
        fields.string(3, self.refusal)
    }
}
