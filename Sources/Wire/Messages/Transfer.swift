/// TRANSFER_OFFER: the sender has an object for the receiver (PROTOCOL.md §7.4, §10.10). Stream 0.
public struct TransferOffer: Hashable, Sendable, FieldCoded {
    /// SHA-256 of the whole object: its address (field 1).
    public var digest: ContentDigest?
    /// Object size, bytes (field 2).
    public var size: UInt64
    /// Raw bytes per block, at most 1 MiB; every block but the last is this size (field 3).
    public var blockSize: UInt32
    /// What the object is: `config`, `ostree-delta`, `oci-blob`, `firmware`, `backup` (field 4).
    public var kind: String
    /// A name for logs and the operator (field 5).
    public var name: String

    public init(digest: ContentDigest?, size: UInt64, blockSize: UInt32, kind: String, name: String) {
        self.digest = digest
        self.size = size
        self.blockSize = blockSize
        self.kind = kind
        self.name = name
    }

    /// Blocks in the object.
    public var blockCount: UInt64 {
        guard self.blockSize > 0 else { return 0 }
        return (self.size + UInt64(self.blockSize) - 1) / UInt64(self.blockSize)
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(digest: nil, size: 0, blockSize: 0, kind: "", name: "")
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.digest = try field.digest()
            case 2: self.size = try field.uint64()
            case 3: self.blockSize = try field.uint32()
            case 4: self.kind = try field.string(max: 64)
            case 5: self.name = try field.string(max: 1024)
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.digest(1, self.digest)
        fields.varint(2, self.size)
        fields.varint(3, self.blockSize)
        fields.string(4, self.kind)
        fields.string(5, self.name)
    }
}

/// TRANSFER_REQUEST: the receiver asks for blocks; opens a new stream (PROTOCOL.md §7.4, §10.11).
public struct TransferRequest: Hashable, Sendable, FieldCoded {
    /// Field 1.
    public var digest: ContentDigest?
    /// First block wanted: 0, or the first missing block when resuming (field 2).
    public var firstBlock: UInt64
    /// How many blocks; 0 means through the last (field 3).
    public var blockCount: UInt64
    /// The receiver holds the start of block `firstBlock` as it was encoded when last
    /// sent, and asks for the rest only (fields 4–6, PROTOCOL.md §7.5). Nil: from its start.
    public var resume: BlockResume?

    public init(digest: ContentDigest?, firstBlock: UInt64, blockCount: UInt64 = 0, resume: BlockResume? = nil) {
        self.digest = digest
        self.firstBlock = firstBlock
        self.blockCount = blockCount
        self.resume = resume
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(digest: nil, firstBlock: 0)
        var fields = fields
        var offset: UInt64 = 0
        var encoding: UInt64 = 0
        var encodedLength: UInt64 = 0
        while let field = try fields.next() {
            switch field.number {
            case 1: self.digest = try field.digest()
            case 2: self.firstBlock = try field.uint64()
            case 3: self.blockCount = try field.uint64()
            case 4: offset = try field.uint64()
            case 5: encoding = try field.uint64()
            case 6: encodedLength = try field.uint64()
            default: break
            }
        }
        if offset > 0 {
            // PROTOCOL.md §7.5: an offset inside the block, of an encoding this version knows.
            guard let known = EncodedBlock.Encoding(rawValue: UInt8(clamping: encoding)), encodedLength <= UInt64(WireLimits.maxBlockSize), offset < encodedLength else {
                throw WireError.malformed("TRANSFER_REQUEST resume at \(offset) of \(encodedLength) encoded bytes (encoding \(encoding))")
            }
            self.resume = BlockResume(offset: Int(offset), encoding: known, encodedLength: Int(encodedLength))
        }
    }

    func write(fields: inout FieldWriter) {
        fields.digest(1, self.digest)
        fields.varint(2, self.firstBlock)
        fields.varint(3, self.blockCount)
        if let resume = self.resume {
            fields.varint(4, UInt64(resume.offset))
            fields.varint(5, UInt64(resume.encoding.rawValue))
            fields.varint(6, UInt64(resume.encodedLength))
        }
    }
}

/// Where a receiver stopped inside a block (PROTOCOL.md §7.5): it holds the first
/// `offset` bytes of the block as encoded (`encoding`, `encodedLength` bytes long).
public struct BlockResume: Hashable, Sendable {
    public var offset: Int
    public var encoding: EncodedBlock.Encoding
    public var encodedLength: Int

    public init(offset: Int, encoding: EncodedBlock.Encoding, encodedLength: Int) {
        self.offset = offset
        self.encoding = encoding
        self.encodedLength = encodedLength
    }
}

/// TRANSFER_END: all requested blocks were sent; carries END_STREAM (PROTOCOL.md §10.12).
public struct TransferEnd: Hashable, Sendable, FieldCoded {
    /// Field 1.
    public var digest: ContentDigest?
    /// Blocks sent on this stream (field 2).
    public var blocksSent: UInt64

    public init(digest: ContentDigest?, blocksSent: UInt64) {
        self.digest = digest
        self.blocksSent = blocksSent
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(digest: nil, blocksSent: 0)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.digest = try field.digest()
            case 2: self.blocksSent = try field.uint64()
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.digest(1, self.digest)
        fields.varint(2, self.blocksSent)
    }
}

/// TRANSFER_ABORT: the transfer failed or is not wanted, with a reason (PROTOCOL.md §10.13).
public struct TransferAbort: Hashable, Sendable, FieldCoded {
    /// Field 1.
    public var digest: ContentDigest?
    /// A stream error code from PROTOCOL.md §8 (field 2).
    public var code: WireErrorCode
    /// Field 3.
    public var reason: String

    public init(digest: ContentDigest?, code: WireErrorCode, reason: String) {
        self.digest = digest
        self.code = code
        self.reason = reason
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(digest: nil, code: .noError, reason: "")
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.digest = try field.digest()
            case 2: self.code = WireErrorCode(rawValue: try field.uint32())
            case 3: self.reason = try field.string(max: WireLimits.maxReasonBytes)
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.digest(1, self.digest)
        fields.varint(2, self.code.rawValue)
        fields.string(3, self.reason)
    }
}
