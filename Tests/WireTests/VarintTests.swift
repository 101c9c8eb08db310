import NIOCore
import Testing
@testable import Wire

@Suite struct VarintTests {
    @Test("varints round-trip at every length", arguments: [UInt64(0), 1, 127, 128, 300, 16_383, 16_384, 1 << 35, UInt64(Int64.max), UInt64.max])
    func roundTrip(value: UInt64) throws {
        var buffer = ByteBuffer()
        let written = buffer.writeVarint(value)
        #expect(written == varintSize(value))
        #expect(try buffer.readVarint() == value)
        #expect(buffer.readableBytes == 0)
    }

    @Test func knownEncodings() {
        // 300 = 0b1_0010_1100: low seven bits 0x2C with the continuation bit, then 0x02.
        var buffer = ByteBuffer()
        buffer.writeVarint(300)
        #expect(Array(buffer.readableBytesView) == [0xAC, 0x02])
        buffer.clear()
        buffer.writeVarint(UInt64.max)
        #expect(Array(buffer.readableBytesView) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
    }

    @Test("a truncated varint asks for more bytes and leaves the reader where it was")
    func truncated() throws {
        var buffer = ByteBuffer(bytes: [0xAC])
        #expect(try buffer.readVarint() == nil)
        #expect(buffer.readerIndex == 0)
    }

    @Test("overlong encodings are malformed", arguments: [[UInt8(0x80), 0x00], [0xFF, 0x80, 0x00], [0x81, 0x80, 0x80, 0x00]])
    func overlong(bytes: [UInt8]) {
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: WireError.self) { try buffer.readVarint() }
    }

    @Test("more than ten bytes, or a tenth byte above 1, is malformed")
    func tooLong() {
        var eleven = ByteBuffer(bytes: [UInt8](repeating: 0xFF, count: 10) + [0x01])
        #expect(throws: WireError.self) { try eleven.readVarint() }
        var tenthTooBig = ByteBuffer(bytes: [UInt8](repeating: 0xFF, count: 9) + [0x02])
        #expect(throws: WireError.self) { try tenthTooBig.readVarint() }
    }

    @Test func zigZag() {
        #expect(ZigZag.encode(0) == 0)
        #expect(ZigZag.encode(-1) == 1)
        #expect(ZigZag.encode(1) == 2)
        #expect(ZigZag.encode(-2) == 3)
        for value: Int64 in [0, -1, 1, Int64.min, Int64.max, -123_456_789] {
            #expect(ZigZag.decode(ZigZag.encode(value)) == value)
        }
    }
}
