import Crypto
import Foundation
import NIOCore
import Wire

#if canImport(Glibc)
import Glibc
#endif

/// Where the agent keeps transfer objects: complete ones under `objects/<sha256>`,
/// incomplete ones under `partial/<sha256>` with a record of the blocks held
/// (`partial/<sha256>.blocks`, one byte per block) and of the block in progress
/// (`partial/<sha256>.block`, its header and how much of it is held, plus for a zlib
/// block its encoded bytes so far in `partial/<sha256>.zlib`), so that a cut link or
/// a restart resumes inside the block (PROTOCOL.md §7.5). Nothing in `partial/` is
/// ever used; an object moves to `objects/` only after its whole digest was verified.
public struct TransferStore: Sendable {
    public let root: String

    public init(stateDirectory: String) throws {
        self.root = stateDirectory + "/transfers"
        try AtomicFile.makeDirectory(self.root + "/objects", mode: 0o700)
        try AtomicFile.makeDirectory(self.root + "/partial", mode: 0o700)
    }

    public func objectPath(_ digest: ContentDigest) -> String { self.root + "/objects/" + digest.hex }
    public func partialPath(_ digest: ContentDigest) -> String { self.root + "/partial/" + digest.hex }
    public func recordPath(_ digest: ContentDigest) -> String { self.root + "/partial/" + digest.hex + ".blocks" }
    public func blockRecordPath(_ digest: ContentDigest) -> String { self.root + "/partial/" + digest.hex + ".block" }
    public func prefixPath(_ digest: ContentDigest) -> String { self.root + "/partial/" + digest.hex + ".zlib" }

    /// Whether a verified copy of the object is here.
    public func has(_ digest: ContentDigest) -> Bool {
        FileManager.default.fileExists(atPath: self.objectPath(digest))
    }

    /// Opens (or resumes) the partial file for an offered object.
    public func begin(_ offer: TransferOffer) throws -> IncomingObject {
        guard let digest = offer.digest, offer.blockSize > 0, offer.blockSize <= WireLimits.maxBlockSize else {
            throw WireError(.protocolError, "offer without a digest or with block size \(offer.blockSize)")
        }
        return try IncomingObject(store: self, digest: digest, size: offer.size, blockSize: Int(offer.blockSize))
    }
}

/// One object being received: writes raw block pieces at their offsets, remembers
/// which blocks are complete (surviving an agent restart), and verifies the digest
/// before the object is published.
public final class IncomingObject {
    public let digest: ContentDigest
    public let size: UInt64
    public let blockSize: Int
    private let store: TransferStore
    private let fd: Int32
    private let recordFD: Int32
    /// One byte per block: 1 when the block is on disk.
    private var held: [UInt8]
    /// The block in progress as held on disk, and for a zlib block how many of its
    /// encoded bytes the prefix file holds.
    private var partial: (index: UInt32, resume: BlockResume)?
    private var prefixSaved = 0

    public var blockCount: Int { self.held.count }

    public init(store: TransferStore, digest: ContentDigest, size: UInt64, blockSize: Int) throws {
        self.store = store
        self.digest = digest
        self.size = size
        self.blockSize = blockSize
        let blocks = Int((size + UInt64(blockSize) - 1) / UInt64(blockSize))
        self.fd = open(store.partialPath(digest), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard self.fd >= 0 else { throw AtomicFile.Failure(path: store.partialPath(digest), operation: "open", errno: errno) }
        let recordFD = open(store.recordPath(digest), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard recordFD >= 0 else {
            close(self.fd)
            throw AtomicFile.Failure(path: store.recordPath(digest), operation: "open", errno: errno)
        }
        self.recordFD = recordFD
        var record = [UInt8](repeating: 0, count: blocks + 1)
        let read = record.withUnsafeMutableBytes { pread(recordFD, $0.baseAddress, $0.count, 0) }
        if read > blocks || read < 0 || record.prefix(max(read, 0)).contains(where: { $0 > 1 }) {
            // A record that does not fit this offer (another block size): start over.
            record = [UInt8](repeating: 0, count: blocks + 1)
        }
        ftruncate(recordFD, off_t(blocks))
        self.held = Array(record.prefix(blocks))
        self.partial = self.loadPartial()
    }

    /// The block-in-progress record, if it is whole and consistent with what is on disk.
    private func loadPartial() -> (index: UInt32, resume: BlockResume)? {
        guard let data = FileManager.default.contents(atPath: self.store.blockRecordPath(self.digest)), data.count == 13 else { return nil }
        var buffer = ByteBuffer(bytes: data)
        let index = buffer.readInteger(as: UInt32.self)!
        let encoding = EncodedBlock.Encoding(rawValue: buffer.readInteger(as: UInt8.self)!)
        let encodedLength = Int(buffer.readInteger(as: UInt32.self)!)
        let offset = Int(buffer.readInteger(as: UInt32.self)!)
        guard let encoding, Int(index) < self.held.count, self.held[Int(index)] == 0, offset > 0, offset < encodedLength,
              encodedLength <= WireLimits.maxBlockSize else { return nil }
        if encoding == .zlib {
            let size = (try? FileManager.default.attributesOfItem(atPath: self.store.prefixPath(self.digest))[.size] as? Int) ?? nil
            guard let size, size >= offset else { return nil }
            self.prefixSaved = offset
        }
        return (index, BlockResume(offset: offset, encoding: encoding, encodedLength: encodedLength))
    }

    /// Where a request resumes: the first block not held, and when its start is held
    /// (PROTOCOL.md §7.5), the offset to continue from.
    public func resumePoint() -> (firstBlock: UInt64, resume: BlockResume?) {
        let first = self.firstMissingBlock
        guard let partial = self.partial, UInt64(partial.index) == first else { return (first, nil) }
        return (first, partial.resume)
    }

    /// The encoded bytes held of the zlib block in progress, which a continuation of it
    /// is joined to; nil when they are not all on disk (then the block is asked for whole).
    public func heldPrefix(for resume: BlockResume) -> ByteBuffer? {
        guard resume.encoding == .zlib else { return ByteBuffer() }
        guard let data = FileManager.default.contents(atPath: self.store.prefixPath(self.digest)), data.count >= resume.offset else { return nil }
        return ByteBuffer(bytes: data.prefix(resume.offset))
    }

    /// Records the block in progress after bytes were written (`BlockParser.partialBlock`):
    /// its header and how much is held, and a zlib block's new encoded bytes. Nil keeps
    /// the record until its block is held (a stream may not have reached it yet).
    /// Returns how many encoded bytes held of a zlib block were received again (a sender
    /// that sent the block whole rather than continue it).
    @discardableResult
    public func keepPartial(_ block: (index: UInt32, resume: BlockResume, compressed: ByteBuffer?)?) throws -> Int {
        guard let block else {
            if let partial = self.partial, self.held[Int(partial.index)] == 1 { self.dropPartial() }
            return 0
        }
        guard Int(block.index) < self.held.count, self.held[Int(block.index)] == 0 else { return 0 }
        var resent = 0
        let sameBlock = self.partial.map { $0.index == block.index && $0.resume.encoding == block.resume.encoding && $0.resume.encodedLength == block.resume.encodedLength } ?? false
        if block.resume.encoding == .zlib, let compressed = block.compressed {
            // Append what is new; start the file again for another block or a block sent afresh.
            if self.prefixFD < 0 {
                self.prefixFD = open(self.store.prefixPath(self.digest), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
                guard self.prefixFD >= 0 else { throw AtomicFile.Failure(path: self.store.prefixPath(self.digest), operation: "open", errno: errno) }
            }
            if !sameBlock || compressed.readableBytes < self.prefixSaved {
                if self.partial?.index == block.index { resent = min(self.prefixSaved, compressed.readableBytes) }
                guard ftruncate(self.prefixFD, 0) == 0 else { throw AtomicFile.Failure(path: self.store.prefixPath(self.digest), operation: "truncate", errno: errno) }
                self.prefixSaved = 0
            }
            if compressed.readableBytes > self.prefixSaved {
                var rest = compressed.getSlice(at: compressed.readerIndex + self.prefixSaved, length: compressed.readableBytes - self.prefixSaved)!
                while rest.readableBytes > 0 {
                    // At the file offset of the first byte not yet written.
                    let at = off_t(compressed.readableBytes - rest.readableBytes)
                    let written = rest.withUnsafeReadableBytes { pwrite(self.prefixFD, $0.baseAddress, $0.count, at) }
                    guard written > 0 else { throw AtomicFile.Failure(path: self.store.prefixPath(self.digest), operation: "write", errno: errno) }
                    rest.moveReaderIndex(forwardBy: written)
                }
                self.prefixSaved = compressed.readableBytes
            }
        }
        // The record follows the bytes it describes: a crash leaves it behind them, never ahead.
        var record = ByteBuffer()
        record.writeInteger(block.index)
        record.writeInteger(block.resume.encoding.rawValue)
        record.writeInteger(UInt32(block.resume.encodedLength))
        record.writeInteger(UInt32(block.resume.encoding == .zlib ? self.prefixSaved : block.resume.offset))
        if self.blockRecordFD < 0 {
            self.blockRecordFD = open(self.store.blockRecordPath(self.digest), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard self.blockRecordFD >= 0 else { throw AtomicFile.Failure(path: self.store.blockRecordPath(self.digest), operation: "open", errno: errno) }
        }
        let written = record.withUnsafeReadableBytes { pwrite(self.blockRecordFD, $0.baseAddress, $0.count, 0) }
        guard written == 13 else { throw AtomicFile.Failure(path: self.store.blockRecordPath(self.digest), operation: "write", errno: errno) }
        self.partial = (block.index, block.resume)
        return resent
    }

    private func dropPartial() {
        for fd in [self.blockRecordFD, self.prefixFD] where fd >= 0 { close(fd) }
        self.blockRecordFD = -1
        self.prefixFD = -1
        unlink(self.store.blockRecordPath(self.digest))
        unlink(self.store.prefixPath(self.digest))
        self.partial = nil
        self.prefixSaved = 0
    }

    /// The block-in-progress record and a zlib block's prefix file, opened on first
    /// use and kept open while the block streams: both are written after every DATA read.
    private var blockRecordFD: Int32 = -1
    private var prefixFD: Int32 = -1

    deinit {
        close(self.fd)
        close(self.recordFD)
        for fd in [self.blockRecordFD, self.prefixFD] where fd >= 0 { close(fd) }
    }

    /// The first block not yet held: where a request resumes.
    public var firstMissingBlock: UInt64 {
        UInt64(self.held.firstIndex(of: 0) ?? self.held.count)
    }

    public var isComplete: Bool { !self.held.contains(0) }

    /// Blocks held so far.
    public var blocksHeld: Int { self.held.reduce(0) { $0 + Int($1) } }

    /// Writes a piece at its place; marks its block held once the block is whole.
    /// Returns how many of its bytes were held already (what a cut cost: sent twice).
    @discardableResult
    public func write(_ piece: BlockPiece) throws -> Int {
        let index = Int(piece.index)
        guard index < self.held.count else { throw WireError(.protocolError, "block \(index) beyond the object's \(self.held.count) blocks") }
        let expected = index == self.held.count - 1 ? Int(self.size - UInt64(index) * UInt64(self.blockSize)) : self.blockSize
        guard piece.rawLength == expected else { throw WireError(.protocolError, "block \(index) is \(piece.rawLength) bytes, expected \(expected)") }
        let already: Int
        if self.held[index] == 1 {
            already = piece.bytes.readableBytes
        } else if let partial = self.partial, Int(partial.index) == index, partial.resume.encoding == .raw {
            already = max(0, min(partial.resume.offset, piece.offset + piece.bytes.readableBytes) - piece.offset)
        } else {
            already = 0
        }
        var offset = off_t(index) * off_t(self.blockSize) + off_t(piece.offset)
        var bytes = piece.bytes
        while bytes.readableBytes > 0 {
            let written = bytes.withUnsafeReadableBytes { pwrite(self.fd, $0.baseAddress, $0.count, offset) }
            guard written > 0 else { throw AtomicFile.Failure(path: self.store.partialPath(self.digest), operation: "write", errno: errno) }
            bytes.moveReaderIndex(forwardBy: written)
            offset += off_t(written)
        }
        // Pieces of a block come in order within a stream (from 0, or from where a
        // continuation starts), so where the last one ends is how much is held.
        let done = piece.offset + piece.bytes.readableBytes
        if piece.completesBlock || done >= expected {
            self.held[index] = 1
            // Page cache is enough across a process crash; a power cut is caught by the digest check.
            var one: UInt8 = 1
            _ = pwrite(self.recordFD, &one, 1, off_t(index))
            if let partial = self.partial, Int(partial.index) == index { self.dropPartial() }
        }
        return already
    }

    /// Verifies the whole object and publishes it under `objects/`, or discards it.
    /// Throws `DIGEST_MISMATCH` (the partial data is removed: the next request starts at block 0).
    public func finish() throws -> String {
        guard self.isComplete else { throw WireError(.protocolError, "finish with blocks missing, first \(self.firstMissingBlock)") }
        guard fsync(self.fd) == 0 else { throw AtomicFile.Failure(path: self.store.partialPath(self.digest), operation: "fsync", errno: errno) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(self.fd, $0.baseAddress, $0.count, offset) }
            if count <= 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            offset += off_t(count)
        }
        let actual = Array(hasher.finalize())
        guard UInt64(offset) == self.size, actual == self.digest.bytes else {
            unlink(self.store.partialPath(self.digest))
            unlink(self.store.recordPath(self.digest))
            self.dropPartial()
            self.held = [UInt8](repeating: 0, count: self.held.count)
            throw WireError(.digestMismatch, "object \(self.digest) hashed to \(ContentDigest(bytes: actual).map(\.hex) ?? "?") over \(offset) bytes")
        }
        let target = self.store.objectPath(self.digest)
        guard rename(self.store.partialPath(self.digest), target) == 0 else {
            throw AtomicFile.Failure(path: target, operation: "rename", errno: errno)
        }
        unlink(self.store.recordPath(self.digest))
        self.dropPartial()
        return target
    }
}
