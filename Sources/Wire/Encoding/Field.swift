import NIOCore

/// The wire type in the low three bits of a field key (PROTOCOL.md §4.2).
public enum WireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case fixed32 = 5
}

/// One decoded field: its number and its value, not yet interpreted.
struct Field {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ByteBuffer)
        case fixed32(UInt32)
    }

    var number: Int
    var value: Value

    func uint64() throws -> UInt64 {
        guard case .varint(let value) = self.value else { throw self.wrongType("varint") }
        return value
    }

    func uint32() throws -> UInt32 {
        guard let value = UInt32(exactly: try self.uint64()) else {
            throw WireError.malformed("field \(self.number) does not fit in 32 bits")
        }
        return value
    }

    func int64() throws -> Int64 { ZigZag.decode(try self.uint64()) }

    func bool() throws -> Bool {
        switch try self.uint64() {
        case 0: return false
        case 1: return true
        default: throw WireError.malformed("field \(self.number) is not a boolean")
        }
    }

    func bytes(max: Int = WireLimits.hardMaxFrameSize) throws -> ByteBuffer {
        guard case .bytes(let buffer) = self.value else { throw self.wrongType("bytes") }
        guard buffer.readableBytes <= max else {
            throw WireError.malformed("field \(self.number) longer than \(max) bytes")
        }
        return buffer
    }

    func byteArray(max: Int = WireLimits.hardMaxFrameSize) throws -> [UInt8] {
        var buffer = try self.bytes(max: max)
        return buffer.readBytes(length: buffer.readableBytes)!
    }

    /// PROTOCOL.md §4.4: strings are UTF-8; invalid sequences are malformed.
    func string(max: Int = WireLimits.maxStringBytes) throws -> String {
        let buffer = try self.bytes(max: max)
        guard let string = buffer.withUnsafeReadableBytes({ String(validating: $0, as: UTF8.self) }) else {
            throw WireError.malformed("field \(self.number) is not valid UTF-8")
        }
        return string
    }

    /// A 32-byte SHA-256 digest.
    func digest() throws -> ContentDigest {
        let bytes = try self.byteArray(max: ContentDigest.byteCount)
        guard let digest = ContentDigest(bytes: bytes) else {
            throw WireError.malformed("field \(self.number) is not a 32-byte digest")
        }
        return digest
    }

    /// An embedded message.
    func message<M: FieldCoded>(_ type: M.Type, depth: Int) throws -> M {
        guard depth < WireLimits.maxNestingDepth else { throw WireError.malformed("messages nested too deep") }
        return try M(fields: FieldReader(try self.bytes()), depth: depth + 1)
    }

    private func wrongType(_ expected: String) -> WireError {
        WireError.malformed("field \(self.number) should be \(expected)")
    }
}

/// Walks the fields of one message payload (PROTOCOL.md §4.2).
struct FieldReader {
    private var buffer: ByteBuffer

    init(_ buffer: ByteBuffer) { self.buffer = buffer }

    /// The next field, or `nil` at the end of the payload. Unknown wire types,
    /// field number 0 and lengths past the end are malformed.
    mutating func next() throws -> Field? {
        guard self.buffer.readableBytes > 0 else { return nil }
        let key = try self.buffer.readCompleteVarint()
        let number = key >> 3
        guard number >= 1, number <= (1 << 29) - 1 else { throw WireError.malformed("field number \(number)") }
        guard let wireType = WireType(rawValue: UInt8(key & 0x7)) else {
            throw WireError.malformed("unknown wire type \(key & 0x7)")
        }
        let value: Field.Value
        switch wireType {
        case .varint:
            value = .varint(try self.buffer.readCompleteVarint())
        case .fixed64:
            guard let raw = self.buffer.readInteger(endianness: .little, as: UInt64.self) else {
                throw WireError.malformed("truncated fixed64")
            }
            value = .fixed64(raw)
        case .fixed32:
            guard let raw = self.buffer.readInteger(endianness: .little, as: UInt32.self) else {
                throw WireError.malformed("truncated fixed32")
            }
            value = .fixed32(raw)
        case .lengthDelimited:
            let length = try self.buffer.readCompleteVarint()
            guard length <= UInt64(self.buffer.readableBytes), let slice = self.buffer.readSlice(length: Int(length)) else {
                throw WireError.malformed("length \(length) runs past the end of the message")
            }
            value = .bytes(slice)
        }
        return Field(number: Int(number), value: value)
    }
}

/// A value that encodes as a sequence of tagged fields: every message and every
/// embedded record.
protocol FieldCoded {
    init(fields: FieldReader, depth: Int) throws
    func write(fields: inout FieldWriter)
}

/// Appends tagged fields in the canonical form: fields in ascending number,
/// defaults (0, false, empty) omitted, minimal varints (PROTOCOL.md §4.3).
struct FieldWriter {
    var buffer: ByteBuffer

    init(_ buffer: ByteBuffer) { self.buffer = buffer }

    private mutating func key(_ number: Int, _ type: WireType) {
        self.buffer.writeVarint(UInt64(number) << 3 | UInt64(type.rawValue))
    }

    mutating func varint(_ number: Int, _ value: UInt64) {
        guard value != 0 else { return }
        self.key(number, .varint)
        self.buffer.writeVarint(value)
    }

    /// A varint written even when zero: for optional fields whose presence means something.
    mutating func present(_ number: Int, _ value: UInt64) {
        self.key(number, .varint)
        self.buffer.writeVarint(value)
    }

    mutating func varint<I: BinaryInteger>(_ number: Int, _ value: I) {
        self.varint(number, UInt64(value))
    }

    mutating func signed(_ number: Int, _ value: Int64) {
        self.varint(number, ZigZag.encode(value))
    }

    mutating func bool(_ number: Int, _ value: Bool) {
        self.varint(number, value ? 1 : 0)
    }

    /// Repeated varints are written one field each (not packed), so one rule decodes them.
    mutating func repeatedVarint<I: BinaryInteger>(_ number: Int, _ values: [I]) {
        for value in values {
            self.key(number, .varint)
            self.buffer.writeVarint(UInt64(value))
        }
    }

    mutating func bytes(_ number: Int, _ value: ByteBuffer) {
        guard value.readableBytes > 0 else { return }
        self.key(number, .lengthDelimited)
        self.buffer.writeVarint(UInt64(value.readableBytes))
        self.buffer.writeImmutableBuffer(value)
    }

    mutating func bytes(_ number: Int, _ value: [UInt8]) {
        guard !value.isEmpty else { return }
        self.key(number, .lengthDelimited)
        self.buffer.writeVarint(UInt64(value.count))
        self.buffer.writeBytes(value)
    }

    mutating func string(_ number: Int, _ value: String) {
        guard !value.isEmpty else { return }
        self.key(number, .lengthDelimited)
        self.buffer.writeVarint(UInt64(value.utf8.count))
        self.buffer.writeString(value)
    }

    mutating func repeatedString(_ number: Int, _ values: [String]) {
        for value in values {
            self.key(number, .lengthDelimited)
            self.buffer.writeVarint(UInt64(value.utf8.count))
            self.buffer.writeString(value)
        }
    }

    mutating func digest(_ number: Int, _ value: ContentDigest?) {
        guard let value else { return }
        self.bytes(number, value.bytes)
    }

    /// An embedded record, written even when empty so that its presence survives.
    mutating func message<M: FieldCoded>(_ number: Int, _ value: M) {
        var inner = FieldWriter(ByteBuffer())
        value.write(fields: &inner)
        self.key(number, .lengthDelimited)
        self.buffer.writeVarint(UInt64(inner.buffer.readableBytes))
        self.buffer.writeImmutableBuffer(inner.buffer)
    }

    mutating func repeatedMessage<M: FieldCoded>(_ number: Int, _ values: [M]) {
        for value in values { self.message(number, value) }
    }
}

extension Array {
    /// Appends one element of a repeated field, enforcing the count bound.
    mutating func appendBounded(_ element: Element, field: Int) throws {
        guard self.count < WireLimits.maxRepeatedCount else {
            throw WireError.malformed("field \(field) repeated more than \(WireLimits.maxRepeatedCount) times")
        }
        self.append(element)
    }
}
