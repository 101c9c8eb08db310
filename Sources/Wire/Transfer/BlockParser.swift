import NIOCore

/// Cuts blocks out of the DATA bytes of a transfer stream (PROTOCOL.md §7.3).
///
/// Lengths are checked as soon as the header is visible: a block never claims more
/// than `blockSize` raw bytes, and a zlib block is always smaller than its raw size,
/// so at most one block's worth of bytes is ever buffered.
public struct BlockParser {
    private var buffer = ByteBuffer()
    /// The raw block size of the transfer, from its offer.
    public let blockSize: Int

    public init(blockSize: Int) {
        precondition(blockSize > 0 && blockSize <= WireLimits.maxBlockSize)
        self.blockSize = blockSize
    }

    /// Adds stream bytes. They are copied into one buffer that is reused from block
    /// to block, so a long transfer does not allocate (and page-fault) a fresh
    /// megabyte per block.
    public mutating func append(_ bytes: ByteBuffer) {
        var bytes = bytes
        if self.buffer.readableBytes == 0 {
            self.buffer.clear()
        }
        self.buffer.writeBuffer(&bytes)
    }

    /// Bytes held that are not yet a whole block.
    public var bufferedBytes: Int { self.buffer.readableBytes }

    /// The next whole block, or nil when more bytes are needed. Throws a stream error.
    public mutating func nextBlock() throws -> EncodedBlock? {
        guard self.buffer.readableBytes >= WireLimits.blockHeaderSize else { return nil }
        let start = self.buffer.readerIndex
        let encodingByte = self.buffer.getInteger(at: start, as: UInt8.self)!
        let index = self.buffer.getInteger(at: start + 1, as: UInt32.self)!
        let rawLength = Int(self.buffer.getInteger(at: start + 5, as: UInt32.self)!)
        let encodedLength = Int(self.buffer.getInteger(at: start + 9, as: UInt32.self)!)
        guard let encoding = EncodedBlock.Encoding(rawValue: encodingByte) else {
            throw WireError(.compressionError, "block \(index): unknown encoding \(encodingByte)")
        }
        guard rawLength > 0, rawLength <= self.blockSize else {
            throw WireError(.protocolError, "block \(index) claims \(rawLength) raw bytes; block size is \(self.blockSize)")
        }
        switch encoding {
        case .raw where encodedLength != rawLength:
            throw WireError(.protocolError, "raw block \(index) with encoded length \(encodedLength) ≠ \(rawLength)")
        case .zlib where encodedLength >= rawLength:
            // PROTOCOL.md §7.2: a block that does not shrink is sent raw.
            throw WireError(.protocolError, "zlib block \(index) of \(encodedLength) bytes does not shrink \(rawLength)")
        default:
            break
        }
        guard self.buffer.readableBytes >= WireLimits.blockHeaderSize + encodedLength else {
            // Grow once to the whole block rather than doubling frame by frame.
            self.buffer.reserveCapacity(minimumWritableBytes: WireLimits.blockHeaderSize + encodedLength - self.buffer.readableBytes)
            return nil
        }
        self.buffer.moveReaderIndex(forwardBy: WireLimits.blockHeaderSize)
        let bytes = self.buffer.readSlice(length: encodedLength)!
        return EncodedBlock(index: index, encoding: encoding, rawLength: rawLength, bytes: bytes)
    }
}
