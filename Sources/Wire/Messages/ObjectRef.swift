import NIOCore

/// A reference to one transfer object: what it is (digest), how big, how the sender
/// cuts it, and what it is for. The one description of an object everywhere: in
/// DEPLOY (PROTOCOL.md §10.20, fields below), in the controller's catalogue, and
/// behind every TRANSFER_OFFER the agent makes for itself.
public struct ObjectRef: Hashable, Sendable, FieldCoded {
    /// Field 1.
    public var digest: ContentDigest?
    /// Bytes (field 2).
    public var size: UInt64
    /// The sender's block size, ≤ 1 MiB (field 3).
    public var blockSize: UInt32
    /// What the object is within the deployment: `superblock`, `part/0`, `manifest`,
    /// `config`, `layer`, `image` (field 4).
    public var role: String

    public init(digest: ContentDigest?, size: UInt64, blockSize: UInt32, role: String) {
        self.digest = digest
        self.size = size
        self.blockSize = blockSize
        self.role = role
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(digest: nil, size: 0, blockSize: 0, role: "")
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.digest = try field.digest()
            case 2: self.size = try field.uint64()
            case 3: self.blockSize = try field.uint32()
            case 4: self.role = try field.string(max: 255)
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.digest(1, self.digest)
        fields.varint(2, self.size)
        fields.varint(3, self.blockSize)
        fields.string(4, self.role)
    }
}

extension ObjectRef: Codable {
    private enum CodingKeys: String, CodingKey {
        case digest, size, blockSize, role
    }

    /// JSON as the REST API and the controller's catalogue show it: the digest as
    /// lowercase hex; `blockSize` only when set.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let hex = try container.decode(String.self, forKey: .digest)
        guard let digest = ContentDigest(hex: hex) else {
            throw DecodingError.dataCorruptedError(forKey: .digest, in: container, debugDescription: "not a SHA-256 digest in hex")
        }
        self.init(
            digest: digest, size: try container.decode(UInt64.self, forKey: .size),
            blockSize: try container.decodeIfPresent(UInt32.self, forKey: .blockSize) ?? 0,
            role: try container.decode(String.self, forKey: .role)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.digest?.hex ?? "", forKey: .digest)
        try container.encode(self.size, forKey: .size)
        if self.blockSize > 0 { try container.encode(self.blockSize, forKey: .blockSize) }
        try container.encode(self.role, forKey: .role)
    }
}

extension TransferOffer {
    /// The offer a site makes itself for an object it was told about by reference.
    public init(_ object: ObjectRef, kind: String, name: String) {
        self.init(digest: object.digest, size: object.size, blockSize: object.blockSize, kind: kind, name: name)
    }
}
