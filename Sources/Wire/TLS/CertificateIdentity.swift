import SwiftASN1
import X509

/// What the protocol reads from a peer certificate: the subcloud name (its common
/// name) and the serial that admission checks (PROTOCOL.md §5.4).
extension Certificate {
    /// The serial number as lowercase hex, as the registry stores it.
    public var serialHex: String {
        self.serialNumber.bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// The certificate in DER.
    public var derBytes: [UInt8] {
        get throws {
            var serializer = DER.Serializer()
            try serializer.serialize(self)
            return serializer.serializedBytes
        }
    }

    /// The first common name of the subject: the subcloud name on agent certificates.
    public var subjectCommonName: String? {
        for rdn in self.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return String(attribute.value)
            }
        }
        return nil
    }
}
