import CompressNIO
import NIOCore

/// One block of a transfer object as it travels in a transfer stream (PROTOCOL.md §7.3):
/// a 13-byte header, then `encodedLength` bytes.
///
/// ```
/// encoding (1) | index (4) | raw_length (4) | encoded_length (4) | bytes
/// ```
public struct EncodedBlock: Sendable {
    public enum Encoding: UInt8, Sendable {
        /// The bytes are the block itself.
        case raw = 0
        /// The bytes are a zlib stream (RFC 1950) that inflates to exactly `rawLength` bytes.
        case zlib = 1
    }

    public var index: UInt32
    public var encoding: Encoding
    public var rawLength: Int
    /// The bytes as sent.
    public var bytes: ByteBuffer

    public init(index: UInt32, encoding: Encoding, rawLength: Int, bytes: ByteBuffer) {
        self.index = index
        self.encoding = encoding
        self.rawLength = rawLength
        self.bytes = bytes
    }

    /// Header plus bytes: what the block costs on the stream.
    public var wireSize: Int { WireLimits.blockHeaderSize + self.bytes.readableBytes }

    /// Appends the header (the bytes follow separately, so they are never copied).
    public func writeHeader(to buffer: inout ByteBuffer) {
        buffer.writeInteger(self.encoding.rawValue)
        buffer.writeInteger(self.index)
        buffer.writeInteger(UInt32(self.rawLength))
        buffer.writeInteger(UInt32(self.bytes.readableBytes))
    }

    /// PROTOCOL.md §7.5: set on the encoding byte of a continuation, the rest of a
    /// block whose first bytes the receiver already holds.
    public static let continuationFlag: UInt8 = 0x80

    /// The rest of this block for a receiver that holds `resume.offset` of its
    /// encoded bytes: the header with the continuation flag, then the bytes from that
    /// offset. Nil when this block is not encoded as the receiver's copy was (say,
    /// compressed otherwise): then the whole block goes, as usual.
    public func continuation(for resume: BlockResume) -> (header: ByteBuffer, bytes: ByteBuffer)? {
        guard resume.encoding == self.encoding, resume.encodedLength == self.bytes.readableBytes, resume.offset < resume.encodedLength else { return nil }
        var header = ByteBuffer()
        header.reserveCapacity(WireLimits.blockHeaderSize)
        header.writeInteger(self.encoding.rawValue | Self.continuationFlag)
        header.writeInteger(self.index)
        header.writeInteger(UInt32(self.rawLength))
        header.writeInteger(UInt32(self.bytes.readableBytes))
        return (header, self.bytes.getSlice(at: self.bytes.readerIndex + resume.offset, length: resume.encodedLength - resume.offset)!)
    }
}

/// Compresses and inflates transfer blocks with zlib (PROTOCOL.md §7.2).
///
/// A block is compressed on its own, so that any block can be sent, resent or
/// cached independently. When zlib does not make it smaller (xz delta parts, gzip
/// layers) it goes raw, so the receiver never inflates what was not deflated.
public struct BlockCodec {
    /// zlib level; 1 trades a little size for ~4× the speed of 6.
    public var level: Int32

    public init(level: Int32 = 6) {
        self.level = level
    }

    /// The block as it should travel: zlib if that is smaller and allowed, raw otherwise.
    public func encode(_ raw: ByteBuffer, index: UInt32, compress: Bool) throws -> EncodedBlock {
        precondition(raw.readableBytes <= WireLimits.maxBlockSize, "block of \(raw.readableBytes) bytes")
        if compress, raw.readableBytes > 0, Self.mayShrink(raw) {
            // Room for one byte less than the raw block: output that does not fit is not worth sending.
            var output = ByteBufferAllocator().buffer(capacity: raw.readableBytes - 1)
            output.reserveCapacity(raw.readableBytes - 1)
            var input = raw
            do {
                try input.compress(to: &output, with: .zlib(configuration: .init(compressionLevel: self.level)))
                if output.readableBytes < raw.readableBytes {
                    return EncodedBlock(index: index, encoding: .zlib, rawLength: raw.readableBytes, bytes: output)
                }
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // Does not shrink: send raw.
            }
        }
        return EncodedBlock(index: index, encoding: .raw, rawLength: raw.readableBytes, bytes: raw)
    }

    /// Whether a block is worth a full compression attempt. Deflating data that does
    /// not shrink (xz delta parts, gzip layers, firmware images) costs as much as
    /// deflating text — ~20 ms per MiB — for nothing, so a large block is judged by
    /// a 64 KiB sample from its middle at the fastest level first: under 3 % saved
    /// there, the block goes raw. A block that is compressible only elsewhere goes
    /// raw too; that costs some bytes, never correctness.
    static func mayShrink(_ raw: ByteBuffer) -> Bool {
        let sampleSize = 64 * 1024
        guard raw.readableBytes >= 2 * sampleSize else { return true }
        var sample = raw.getSlice(at: raw.readerIndex + raw.readableBytes / 2 - sampleSize / 2, length: sampleSize)!
        var output = ByteBufferAllocator().buffer(capacity: sampleSize * 97 / 100)
        do {
            try sample.compress(to: &output, with: .zlib(configuration: .init(compressionLevel: 1)))
            return true
        } catch {
            return false  // overflowed the 97 % budget (or failed): not worth it
        }
    }

    /// The raw block. Throws `COMPRESSION_ERROR` for a corrupt stream or one that
    /// inflates to anything but `rawLength` bytes. Inflation writes into a buffer of
    /// the declared size and stops when it is full, so a crafted block costs no more
    /// memory or time than an honest one.
    public func decode(_ block: EncodedBlock) throws -> ByteBuffer {
        switch block.encoding {
        case .raw:
            guard block.bytes.readableBytes == block.rawLength else {
                throw WireError(.compressionError, "raw block \(block.index) has \(block.bytes.readableBytes) bytes, header says \(block.rawLength)")
            }
            return block.bytes
        case .zlib:
            var output = ByteBufferAllocator().buffer(capacity: block.rawLength)
            var input = block.bytes
            do {
                try input.decompress(to: &output, with: .zlib())
            } catch let error as CompressNIOError where error == .bufferOverflow {
                throw WireError(.compressionError, "block \(block.index) inflates past its declared \(block.rawLength) bytes")
            } catch {
                var failure = WireError(.compressionError, "block \(block.index): zlib stream is corrupt")
                failure.detail = "\(error)"
                throw failure
            }
            guard output.readableBytes == block.rawLength else {
                throw WireError(.compressionError, "block \(block.index) inflates to \(output.readableBytes) bytes, header says \(block.rawLength)")
            }
            return output
        }
    }
}
