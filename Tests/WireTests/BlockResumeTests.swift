import NIOCore
import Testing
@testable import Wire

/// Mid-block resume (PROTOCOL.md §7.5): the request fields, the continuation header
/// and the parser that takes it.
@Suite struct BlockResumeTests {
    static func stream(_ parts: [ByteBuffer]) -> ByteBuffer {
        var all = ByteBuffer()
        for var part in parts { all.writeBuffer(&part) }
        return all
    }

    static func encoded(_ message: Message) -> [UInt8] {
        var buffer = ByteBuffer()
        message.write(to: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// Everything the parser gives for `input`, fed in 7-byte pieces.
    static func pieces(_ parser: inout BlockParser, _ input: ByteBuffer) throws -> [BlockPiece] {
        var remaining = input
        var out: [BlockPiece] = []
        while remaining.readableBytes > 0 {
            parser.append(remaining.readSlice(length: min(7, remaining.readableBytes))!)
            while let piece = try parser.next() { out.append(piece) }
        }
        return out
    }

    @Test("TRANSFER_REQUEST carries the resume point in fields 4-6 and round-trips; absent, the bytes are as before")
    func requestFields() throws {
        let plain = TransferRequest(digest: nil, firstBlock: 3)
        let resumed = TransferRequest(digest: nil, firstBlock: 3, resume: BlockResume(offset: 1000, encoding: .zlib, encodedLength: 4000))
        for request in [plain, resumed] {
            var buffer = ByteBuffer()
            Frame(streamID: 1, payload: .message(.transferRequest(request))).write(to: &buffer)
            var parser = FrameParser(maxFrameSize: WireLimits.minMaxFrameSize)
            parser.append(bytes: &buffer)
            let frame = try #require(try parser.nextFrame())
            #expect(frame.payload == .message(.transferRequest(request)))
        }
        // Field 2 = 3 only: 10 03. With the resume: 20 e8 07 (offset 1000), 28 01 (zlib), 30 a0 1f (4000).
        // Type 11 first (0b), then the fields.
        #expect(Self.encoded(.transferRequest(plain)) == [0x0B, 0x10, 0x03])
        #expect(Self.encoded(.transferRequest(resumed)) == [0x0B, 0x10, 0x03, 0x20, 0xE8, 0x07, 0x28, 0x01, 0x30, 0xA0, 0x1F])
    }

    @Test("a resume offset at or past the block's end, or of an unknown encoding, is malformed")
    func requestBounds() {
        for payload: [UInt8] in [[0x10, 0x03, 0x20, 0x0A, 0x28, 0x00, 0x30, 0x0A], [0x20, 0x05, 0x28, 0x09, 0x30, 0x0A]] {
            #expect(throws: WireError.self) { _ = try Message(from: ByteBuffer(bytes: [0x0B] + payload)) }
        }
    }

    @Test("a raw block continued at an offset is written from there; the next block follows normally")
    func rawContinuation() throws {
        let raw = ByteBuffer(bytes: (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let block = try BlockCodec().encode(raw, index: 2, compress: false)
        let resume = BlockResume(offset: 1000, encoding: .raw, encodedLength: 4096)
        let (header, rest) = try #require(block.continuation(for: resume))
        #expect(header.getInteger(at: 0, as: UInt8.self) == 0x80)
        let next = try BlockCodec().encode(ByteBuffer(bytes: [1, 2, 3]), index: 3, compress: false)
        var nextHeader = ByteBuffer()
        next.writeHeader(to: &nextHeader)
        var parser = BlockParser(blockSize: 4096, resuming: 2, at: resume, prefix: ByteBuffer())
        let pieces = try Self.pieces(&parser, Self.stream([header, rest, nextHeader, next.bytes]))
        let first = pieces.filter { $0.index == 2 }
        #expect(first.first?.offset == 1000)
        #expect(first.last?.completesBlock == true)
        #expect(Self.stream(first.map(\.bytes)) == raw.getSlice(at: 1000, length: 3096))
        #expect(pieces.last?.index == 3 && pieces.last?.offset == 0)
    }

    @Test("a zlib block continued with the bytes held inflates to the block")
    func zlibContinuation() throws {
        let raw = ByteBuffer(bytes: Array(String(repeating: "tern resumes inside a block. ", count: 200).utf8))
        let block = try BlockCodec().encode(raw, index: 0, compress: true)
        #expect(block.encoding == .zlib)
        let held = block.bytes.readableBytes / 3
        let resume = BlockResume(offset: held, encoding: .zlib, encodedLength: block.bytes.readableBytes)
        let (header, rest) = try #require(block.continuation(for: resume))
        var parser = BlockParser(blockSize: 8192, resuming: 0, at: resume, prefix: block.bytes.getSlice(at: block.bytes.readerIndex, length: held)!)
        let pieces = try Self.pieces(&parser, Self.stream([header, rest]))
        #expect(pieces.count == 1 && pieces[0].bytes == raw)
        // The sender could not encode it the same way: the whole block goes and is taken as such.
        var fresh = BlockParser(blockSize: 8192, resuming: 0, at: BlockResume(offset: 10, encoding: .zlib, encodedLength: 99), prefix: ByteBuffer(repeating: 0, count: 10))
        var wholeHeader = ByteBuffer()
        block.writeHeader(to: &wholeHeader)
        #expect(block.continuation(for: BlockResume(offset: 10, encoding: .zlib, encodedLength: 99)) == nil)
        #expect(try Self.pieces(&fresh, Self.stream([wholeHeader, block.bytes])).first?.bytes == raw)
    }

    @Test("a continuation nobody asked for, or of another header, is a stream error")
    func unaskedContinuation() throws {
        let raw = ByteBuffer(bytes: [UInt8](repeating: 9, count: 100))
        let block = try BlockCodec().encode(raw, index: 0, compress: false)
        let (header, rest) = try #require(block.continuation(for: BlockResume(offset: 10, encoding: .raw, encodedLength: 100)))
        var plain = BlockParser(blockSize: 4096)
        #expect(throws: WireError.self) { _ = try Self.pieces(&plain, Self.stream([header, rest])) }
        var other = BlockParser(blockSize: 4096, resuming: 1, at: BlockResume(offset: 10, encoding: .raw, encodedLength: 100), prefix: ByteBuffer())
        #expect(throws: WireError.self) { _ = try Self.pieces(&other, Self.stream([header, rest])) }
        // Only the first block of the stream may be one.
        var whole = ByteBuffer()
        block.writeHeader(to: &whole)
        var second = BlockParser(blockSize: 4096, resuming: 0, at: BlockResume(offset: 10, encoding: .raw, encodedLength: 100), prefix: ByteBuffer())
        #expect(throws: WireError.self) { _ = try Self.pieces(&second, Self.stream([whole, block.bytes, header, rest])) }
    }
}
