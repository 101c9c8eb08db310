import NIOCore
import TernTestSupport
import Testing
@testable import Wire

@Suite struct BlockCodecTests {
    static func compressible(_ count: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        var line = 0
        while buffer.readableBytes < count {
            buffer.writeString("ostree object \(line) in tree /usr/lib/modules\n")
            line += 1
        }
        return buffer.getSlice(at: 0, length: count)!
    }

    static func random(_ count: Int, seed: UInt64 = 1) -> ByteBuffer {
        var generator = SplitMix(seed: seed)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(count)
        while buffer.readableBytes + 8 <= count { buffer.writeInteger(generator.next()) }
        while buffer.readableBytes < count { buffer.writeInteger(UInt8(truncatingIfNeeded: generator.next())) }
        return buffer
    }

    @Test("compressible blocks go zlib and come back exact")
    func compressible() throws {
        let raw = Self.compressible(WireLimits.maxBlockSize)
        let block = try BlockCodec().encode(raw, index: 3, compress: true)
        #expect(block.encoding == .zlib)
        #expect(block.bytes.readableBytes < raw.readableBytes / 4)
        #expect(try BlockCodec().decode(block) == raw)
    }

    @Test("incompressible blocks, or zlib not negotiated, go raw")
    func raw() throws {
        let random = Self.random(100_000)
        #expect(try BlockCodec().encode(random, index: 0, compress: true).encoding == .raw)
        let text = Self.compressible(100_000)
        let block = try BlockCodec().encode(text, index: 0, compress: false)
        #expect(block.encoding == .raw)
        #expect(try BlockCodec().decode(block) == text)
    }

    @Test("a 1 MiB block is judged by a sample first: random data is not deflated at all, text and half-text blocks are")
    func sampleProbe() throws {
        #expect(!BlockCodec.mayShrink(Self.random(1 << 20)))
        #expect(BlockCodec.mayShrink(Self.compressible(1 << 20)))
        // Text around the middle, random elsewhere: worth trying, and it does shrink.
        var mixed = Self.random(256 << 10)
        var text = Self.compressible(512 << 10)
        var tail = Self.random(256 << 10, seed: 2)
        mixed.writeBuffer(&text)
        mixed.writeBuffer(&tail)
        #expect(BlockCodec.mayShrink(mixed))
        #expect(try BlockCodec().encode(mixed, index: 0, compress: true).encoding == .zlib)
        let random = try BlockCodec().encode(Self.random(1 << 20), index: 0, compress: true)
        #expect(random.encoding == .raw && random.bytes.readableBytes == 1 << 20)
        // Small blocks are always tried in full.
        #expect(BlockCodec.mayShrink(Self.random(64 << 10)))
    }

    @Test("a zlib block that inflates past its declared size is COMPRESSION_ERROR")
    func inflationBomb() throws {
        // 1 MiB of zeros deflates to about 1 KiB; declare it as 1000 bytes.
        let zeros = ByteBuffer(repeating: 0, count: WireLimits.maxBlockSize)
        var bomb = try BlockCodec().encode(zeros, index: 0, compress: true)
        #expect(bomb.encoding == .zlib)
        bomb.rawLength = 1000
        #expect(throws: WireError(.compressionError, "block 0 inflates past its declared 1000 bytes")) { try BlockCodec().decode(bomb) }
    }

    @Test("a corrupt or short zlib block is COMPRESSION_ERROR")
    func corrupt() throws {
        let raw = Self.compressible(50_000)
        var block = try BlockCodec().encode(raw, index: 1, compress: true)
        var short = block
        short.rawLength += 1
        #expect { try BlockCodec().decode(short) } throws: { ($0 as? WireError)?.code == .compressionError }
        block.bytes.setInteger(UInt8(0xFF), at: block.bytes.readerIndex + 5)
        #expect { try BlockCodec().decode(block) } throws: { ($0 as? WireError)?.code == .compressionError }
    }

    @Test("blocks span DATA frames in any split and parse back in order")
    func blockStream() throws {
        let codec = BlockCodec()
        let blocks = [
            try codec.encode(Self.compressible(4096), index: 0, compress: true),
            try codec.encode(Self.random(4096), index: 1, compress: true),
            try codec.encode(Self.random(17), index: 2, compress: true),
        ]
        var stream = ByteBuffer()
        for block in blocks {
            block.writeHeader(to: &stream)
            stream.writeImmutableBuffer(block.bytes)
        }
        for split in [1, 5, 13, 1000, stream.readableBytes] {
            var parser = BlockParser(blockSize: 4096)
            var input = stream
            var decoded: [ByteBuffer] = [ByteBuffer(), ByteBuffer(), ByteBuffer()]
            while input.readableBytes > 0 {
                parser.append(input.readSlice(length: min(split, input.readableBytes))!)
                while var piece = try parser.next() {
                    // Pieces arrive in order, each at the offset where the last one ended.
                    #expect(piece.offset == decoded[Int(piece.index)].readableBytes)
                    decoded[Int(piece.index)].writeBuffer(&piece.bytes)
                }
            }
            #expect(decoded == [Self.compressible(4096), Self.random(4096), Self.random(17)])
            #expect(parser.isAtBlockBoundary)
        }
    }

    @Test("a raw block is passed on piece by piece before it is complete")
    func rawPiecesStream() throws {
        let block = try BlockCodec().encode(Self.random(4096), index: 5, compress: true)
        var stream = ByteBuffer()
        block.writeHeader(to: &stream)
        stream.writeImmutableBuffer(block.bytes)
        var parser = BlockParser(blockSize: 4096)
        parser.append(stream.readSlice(length: WireLimits.blockHeaderSize + 1000)!)
        let first = try #require(try parser.next())
        #expect(first.index == 5 && first.offset == 0 && first.bytes.readableBytes == 1000 && !first.completesBlock)
        #expect(try parser.next() == nil)
        parser.append(stream)
        let second = try #require(try parser.next())
        #expect(second.offset == 1000 && second.completesBlock)
    }

    @Test("a block header claiming more than the block size is refused before its bytes arrive")
    func blockHeaderBounds() {
        var parser = BlockParser(blockSize: 4096)
        var header = ByteBuffer()
        header.writeInteger(UInt8(0))
        header.writeInteger(UInt32(0))
        header.writeInteger(UInt32(4097))
        header.writeInteger(UInt32(4097))
        parser.append(header)
        #expect { try parser.next() } throws: { ($0 as? WireError)?.code == .protocolError }
        var zlibNotSmaller = BlockParser(blockSize: 4096)
        var other = ByteBuffer()
        other.writeInteger(UInt8(1))
        other.writeInteger(UInt32(0))
        other.writeInteger(UInt32(100))
        other.writeInteger(UInt32(100))
        zlibNotSmaller.append(other)
        #expect { try zlibNotSmaller.next() } throws: { ($0 as? WireError)?.code == .protocolError }
    }
}
