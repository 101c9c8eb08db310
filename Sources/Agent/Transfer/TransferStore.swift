import Crypto
import Foundation
import NIOCore
import Wire

#if canImport(Glibc)
import Glibc
#endif

/// Where the agent keeps transfer objects: complete ones under `objects/<sha256>`,
/// incomplete ones under `partial/<sha256>` with a record of the blocks held
/// (`partial/<sha256>.blocks`, one byte per block). Nothing in `partial/` is ever
/// used; an object moves to `objects/` only after its whole digest was verified.
public struct TransferStore: Sendable {
    public let root: String

    public init(stateDirectory: String) throws {
        self.root = stateDirectory + "/transfers"
        try AtomicFile.makeDirectory(self.root + "/objects", mode: 0o700)
        try AtomicFile.makeDirectory(self.root + "/partial", mode: 0o700)
    }

    public func objectPath(_ digest: Wire.Digest) -> String { self.root + "/objects/" + digest.hex }
    func partialPath(_ digest: Wire.Digest) -> String { self.root + "/partial/" + digest.hex }
    func recordPath(_ digest: Wire.Digest) -> String { self.root + "/partial/" + digest.hex + ".blocks" }

    /// Whether a verified copy of the object is here.
    public func has(_ digest: Wire.Digest) -> Bool {
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
    public let digest: Wire.Digest
    public let size: UInt64
    public let blockSize: Int
    private let store: TransferStore
    private let fd: Int32
    private let recordFD: Int32
    /// One byte per block: 1 when the block is on disk.
    private var held: [UInt8]
    /// Bytes written per block not yet complete, to know when it is.
    private var progress: [UInt32: Int] = [:]

    public var blockCount: Int { self.held.count }

    init(store: TransferStore, digest: Wire.Digest, size: UInt64, blockSize: Int) throws {
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
    }

    deinit {
        close(self.fd)
        close(self.recordFD)
    }

    /// The first block not yet held: where a request resumes.
    public var firstMissingBlock: UInt64 {
        UInt64(self.held.firstIndex(of: 0) ?? self.held.count)
    }

    public var isComplete: Bool { !self.held.contains(0) }

    /// Blocks held so far.
    public var blocksHeld: Int { self.held.reduce(0) { $0 + Int($1) } }

    /// Writes a piece at its place; marks its block held once the block is whole.
    public func write(_ piece: BlockPiece) throws {
        let index = Int(piece.index)
        guard index < self.held.count else { throw WireError(.protocolError, "block \(index) beyond the object's \(self.held.count) blocks") }
        let expected = index == self.held.count - 1 ? Int(self.size - UInt64(index) * UInt64(self.blockSize)) : self.blockSize
        guard piece.rawLength == expected else { throw WireError(.protocolError, "block \(index) is \(piece.rawLength) bytes, expected \(expected)") }
        var offset = off_t(index) * off_t(self.blockSize) + off_t(piece.offset)
        var bytes = piece.bytes
        while bytes.readableBytes > 0 {
            let written = bytes.withUnsafeReadableBytes { pwrite(self.fd, $0.baseAddress, $0.count, offset) }
            guard written > 0 else { throw AtomicFile.Failure(path: self.store.partialPath(self.digest), operation: "write", errno: errno) }
            bytes.moveReaderIndex(forwardBy: written)
            offset += off_t(written)
        }
        let done = (self.progress[piece.index] ?? 0) + piece.bytes.readableBytes
        if piece.completesBlock || done >= expected {
            self.progress[piece.index] = nil
            self.held[index] = 1
            // Page cache is enough across a process crash; a power cut is caught by the digest check.
            var one: UInt8 = 1
            _ = pwrite(self.recordFD, &one, 1, off_t(index))
        } else {
            self.progress[piece.index] = done
        }
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
            self.held = [UInt8](repeating: 0, count: self.held.count)
            throw WireError(.digestMismatch, "object \(self.digest) hashed to \(Wire.Digest(bytes: actual).map(\.hex) ?? "?") over \(offset) bytes")
        }
        let target = self.store.objectPath(self.digest)
        guard rename(self.store.partialPath(self.digest), target) == 0 else {
            throw AtomicFile.Failure(path: target, operation: "rename", errno: errno)
        }
        unlink(self.store.recordPath(self.digest))
        return target
    }
}
