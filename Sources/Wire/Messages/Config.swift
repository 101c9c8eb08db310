/// CONFIG_OFFER: a new desired-state generation is ready (PROTOCOL.md §10.8).
///
/// The bundle itself travels as a transfer object with the given digest.
public struct ConfigOffer: Hashable, Sendable, FieldCoded {
    /// Increases with every change of desired state (field 1).
    public var generation: UInt64
    /// Digest of the bundle object (field 2).
    public var bundle: ContentDigest?
    /// Bundle size, bytes (field 3).
    public var size: UInt64

    public init(generation: UInt64, bundle: ContentDigest?, size: UInt64) {
        self.generation = generation
        self.bundle = bundle
        self.size = size
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(generation: 0, bundle: nil, size: 0)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.generation = try field.uint64()
            case 2: self.bundle = try field.digest()
            case 3: self.size = try field.uint64()
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.varint(1, self.generation)
        fields.digest(2, self.bundle)
        fields.varint(3, self.size)
    }
}

/// CONFIG_RESULT: what the agent did with a generation, or drift it found (PROTOCOL.md §10.9).
public struct ConfigResult: Hashable, Sendable, FieldCoded {
    public enum Status: UInt32, Sendable {
        case applied = 0
        case failed = 1
        case drifted = 2
    }

    /// Field 1.
    public var generation: UInt64
    /// Field 2; unknown values decode as `failed`.
    public var status: Status
    /// Digest of what is now on disk (field 3).
    public var applied: ContentDigest?
    /// For the operator (field 4).
    public var detail: String

    public init(generation: UInt64, status: Status, applied: ContentDigest?, detail: String) {
        self.generation = generation
        self.status = status
        self.applied = applied
        self.detail = detail
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(generation: 0, status: .applied, applied: nil, detail: "")
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.generation = try field.uint64()
            case 2: self.status = Status(rawValue: try field.uint32()) ?? .failed
            case 3: self.applied = try field.digest()
            case 4: self.detail = try field.string()
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.varint(1, self.generation)
        fields.varint(2, self.status.rawValue)
        fields.digest(3, self.applied)
        fields.string(4, self.detail)
    }
}
