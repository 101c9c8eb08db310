import NIOCore

/// Raw bytes of one block, at their place in the block.
public struct BlockPiece: Sendable, Hashable {
    /// The block these bytes belong to.
    public var index: UInt32
    /// Raw size of the whole block.
    public var rawLength: Int
    /// Where `bytes` start within the block.
    public var offset: Int
    /// Raw (already inflated) bytes.
    public var bytes: ByteBuffer

    public init(index: UInt32, rawLength: Int, offset: Int, bytes: ByteBuffer) {
        self.index = index
        self.rawLength = rawLength
        self.offset = offset
        self.bytes = bytes
    }

    /// Whether this piece completes its block.
    public var completesBlock: Bool { self.offset + self.bytes.readableBytes == self.rawLength }
}

/// Turns the DATA bytes of a transfer stream back into raw block bytes (PROTOCOL.md §7.3).
///
/// Raw blocks are passed through piece by piece as they arrive, without copying or
/// waiting for the whole block; a zlib block is collected (it is smaller than its
/// raw size by definition) and inflated with a limit of its declared size. Lengths
/// are checked as soon as a header is read, so at most one compressed block is held.
public struct BlockParser {
    /// The raw block size of the transfer, from its offer.
    public let blockSize: Int
    private let codec: BlockCodec
    /// Stream bytes not yet parsed, in arrival order.
    private var input: [ByteBuffer] = []
    private var inputBytes = 0
    private var header = ByteBuffer()
    private var current: Current?
    /// A zlib block's bytes, collected; reused from block to block.
    private var compressed = ByteBuffer()

    private struct Current {
        var index: UInt32
        var encoding: EncodedBlock.Encoding
        var rawLength: Int
        var encodedLength: Int
        /// Encoded bytes of this block consumed so far.
        var consumed = 0
    }

    /// A continuation this stream may start with (PROTOCOL.md §7.5), and for a zlib
    /// block the encoded bytes held already.
    private var expectedContinuation: (index: UInt32, resume: BlockResume, prefix: ByteBuffer)?

    /// The index the next block must have, when the stream's first block is known
    /// (PROTOCOL.md §7.4: `first_block`, then each next one, no gap, no repeat).
    private var nextIndex: UInt32?

    /// - Parameter firstIndex: the `first_block` the stream was requested from; blocks
    ///   out of order are then a stream error. Nil accepts any order (tests, fuzzing).
    public init(blockSize: Int, codec: BlockCodec = BlockCodec(), firstIndex: UInt32? = nil) {
        precondition(blockSize > 0 && blockSize <= WireLimits.maxBlockSize)
        self.blockSize = blockSize
        self.codec = codec
        self.nextIndex = firstIndex
    }

    /// A parser for a stream requested with `resume` for block `index`: its first block
    /// may be a continuation. For a zlib block, `prefix` holds the `resume.offset`
    /// encoded bytes already received; a raw block's are on disk and need not be given.
    public init(blockSize: Int, codec: BlockCodec = BlockCodec(), resuming index: UInt32, at resume: BlockResume, prefix: ByteBuffer) {
        self.init(blockSize: blockSize, codec: codec, firstIndex: index)
        precondition(resume.encoding == .raw || prefix.readableBytes == resume.offset)
        self.expectedContinuation = (index, resume, prefix)
    }

    /// The block in progress, for a receiver that keeps partial blocks across cuts:
    /// its header, the encoded bytes received so far, and for a zlib block those bytes.
    public var partialBlock: (index: UInt32, resume: BlockResume, compressed: ByteBuffer?)? {
        guard let current = self.current, current.consumed > 0, current.consumed < current.encodedLength else { return nil }
        let resume = BlockResume(offset: current.consumed, encoding: current.encoding, encodedLength: current.encodedLength)
        return (current.index, resume, current.encoding == .zlib ? self.compressed : nil)
    }

    public mutating func append(_ bytes: ByteBuffer) {
        guard bytes.readableBytes > 0 else { return }
        self.input.append(bytes)
        self.inputBytes += bytes.readableBytes
    }

    /// Bytes held that are not yet returned: stream input plus a partial header or compressed block.
    public var bufferedBytes: Int { self.inputBytes + self.header.readableBytes + self.compressed.readableBytes }

    /// Whether the stream ended on a block boundary (nothing partial is held).
    public var isAtBlockBoundary: Bool { self.current == nil && self.bufferedBytes == 0 }

    /// The next raw bytes, or nil when more input is needed. Throws a stream error.
    public mutating func next() throws -> BlockPiece? {
        while true {
            guard var current = self.current else {
                guard try self.readHeader() else { return nil }
                continue
            }
            switch current.encoding {
            case .raw:
                guard let bytes = self.take(upTo: current.encodedLength - current.consumed) else { return nil }
                let piece = BlockPiece(index: current.index, rawLength: current.rawLength, offset: current.consumed, bytes: bytes)
                current.consumed += bytes.readableBytes
                self.current = current.consumed == current.encodedLength ? nil : current
                return piece
            case .zlib:
                while current.consumed < current.encodedLength, var bytes = self.take(upTo: current.encodedLength - current.consumed) {
                    current.consumed += bytes.readableBytes
                    self.compressed.writeBuffer(&bytes)
                }
                self.current = current
                guard current.consumed == current.encodedLength else { return nil }
                let block = EncodedBlock(index: current.index, encoding: .zlib, rawLength: current.rawLength, bytes: self.compressed)
                let raw = try self.codec.decode(block)
                self.compressed.clear()
                self.current = nil
                return BlockPiece(index: current.index, rawLength: current.rawLength, offset: 0, bytes: raw)
            }
        }
    }

    /// Up to `limit` bytes from the front of the input, without copying.
    private mutating func take(upTo limit: Int) -> ByteBuffer? {
        guard limit > 0, !self.input.isEmpty else { return nil }
        let count = min(limit, self.input[0].readableBytes)
        let bytes = self.input[0].readSlice(length: count)!
        if self.input[0].readableBytes == 0 { self.input.removeFirst() }
        self.inputBytes -= count
        return bytes
    }

    /// Collects and checks a 13-byte block header; false when more input is needed.
    private mutating func readHeader() throws -> Bool {
        while self.header.readableBytes < WireLimits.blockHeaderSize, var bytes = self.take(upTo: WireLimits.blockHeaderSize - self.header.readableBytes) {
            self.header.writeBuffer(&bytes)
        }
        guard self.header.readableBytes == WireLimits.blockHeaderSize else { return false }
        let flaggedEncoding = self.header.readInteger(as: UInt8.self)!
        let index = self.header.readInteger(as: UInt32.self)!
        let rawLength = Int(self.header.readInteger(as: UInt32.self)!)
        let encodedLength = Int(self.header.readInteger(as: UInt32.self)!)
        self.header.clear()
        // Only the first block of a stream may be a continuation, and only of what was asked.
        let expected = self.expectedContinuation
        self.expectedContinuation = nil
        let isContinuation = flaggedEncoding & EncodedBlock.continuationFlag != 0
        let encodingByte = flaggedEncoding & ~EncodedBlock.continuationFlag
        if isContinuation {
            // PROTOCOL.md §7.5: a continuation repeats the header the receiver holds.
            guard let expected, expected.index == index, expected.resume.encoding.rawValue == encodingByte, expected.resume.encodedLength == encodedLength else {
                throw WireError(.protocolError, "block \(index): a continuation that was not asked for")
            }
        }
        if let expectedIndex = self.nextIndex {
            guard index == expectedIndex else {
                throw WireError(.protocolError, "block \(index) where block \(expectedIndex) was due")
            }
            self.nextIndex = index &+ 1
        }
        guard let encoding = EncodedBlock.Encoding(rawValue: encodingByte) else {
            throw WireError(.compressionError, "block \(index): unknown encoding \(encodingByte)")
        }
        // PROTOCOL.md §7.3: a raw length of 0 or above block_size is a stream error.
        guard rawLength > 0, rawLength <= self.blockSize else {
            throw WireError(.protocolError, "block \(index) claims \(rawLength) raw bytes; block size is \(self.blockSize)")
        }
        switch encoding {
        case .raw where encodedLength != rawLength:
            throw WireError(.protocolError, "raw block \(index) with encoded length \(encodedLength) ≠ \(rawLength)")
        case .zlib where encodedLength >= rawLength:
            // PROTOCOL.md §7.2: a block that does not shrink is sent raw.
            throw WireError(.protocolError, "zlib block \(index) of \(encodedLength) bytes does not shrink \(rawLength)")
        case .zlib:
            self.compressed.reserveCapacity(encodedLength)
        default:
            break
        }
        self.current = Current(index: index, encoding: encoding, rawLength: rawLength, encodedLength: encodedLength)
        if isContinuation, let expected {
            self.current!.consumed = expected.resume.offset
            if encoding == .zlib {
                var prefix = expected.prefix
                self.compressed.clear()
                self.compressed.writeBuffer(&prefix)
            }
        }
        return true
    }
}
