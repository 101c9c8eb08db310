import NIOCore

// PROTOCOL.md §4.1: unsigned LEB128, at most 10 bytes, minimal encoding only.

extension ByteBuffer {
    /// Writes `value` as a minimal varint and returns the bytes written.
    @discardableResult
    public mutating func writeVarint(_ value: UInt64) -> Int {
        var value = value
        var written = 0
        while value >= 0x80 {
            written += self.writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        written += self.writeInteger(UInt8(value))
        return written
    }

    /// Reads a varint.
    ///
    /// Returns `nil`, with the reader index unchanged, when the buffer ends before the
    /// varint does. Throws `MALFORMED_MESSAGE` for more than ten bytes, a tenth byte
    /// above 1, or a non-minimal encoding (a final byte of zero after the first).
    public mutating func readVarint() throws -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var index = self.readerIndex
        for position in 0..<WireLimits.maxVarintBytes {
            guard let byte = self.getInteger(at: index, as: UInt8.self) else { return nil }
            index += 1
            if position == WireLimits.maxVarintBytes - 1, byte > 1 {
                throw WireError.malformed("varint longer than 64 bits")
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                if byte == 0, position > 0 {
                    throw WireError.malformed("overlong varint encoding")
                }
                self.moveReaderIndex(to: index)
                return result
            }
            shift += 7
        }
        throw WireError.malformed("varint longer than \(WireLimits.maxVarintBytes) bytes")
    }

    /// Reads a varint that must be complete in this buffer.
    mutating func readCompleteVarint() throws -> UInt64 {
        guard let value = try self.readVarint() else { throw WireError.malformed("truncated varint") }
        return value
    }
}

/// The number of bytes `value` takes as a varint.
public func varintSize(_ value: UInt64) -> Int {
    var size = 1
    var value = value >> 7
    while value != 0 {
        size += 1
        value >>= 7
    }
    return size
}

/// ZigZag mapping for signed integers (PROTOCOL.md §4.1).
enum ZigZag {
    static func encode(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }

    static func decode(_ value: UInt64) -> Int64 {
        Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }
}
