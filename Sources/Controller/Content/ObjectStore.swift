import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Wire

#if canImport(Glibc)
import Glibc
import Platform
#endif

/// The controller's content-addressed objects (`objects/<sha256>` in the data
/// directory) and the cache of their encoded blocks: each block is compressed once
/// and served from memory to every agent that asks.
public final class ObjectStore: Sendable {
    public let root: String
    public let blockSize: Int
    private let cache: BlockCache

    public init(dataDirectory: String, blockSize: Int = WireLimits.maxBlockSize, cacheBytes: Int = 256 << 20) throws {
        self.root = dataDirectory + "/objects"
        self.blockSize = blockSize
        self.cache = BlockCache(budget: cacheBytes)
        try AtomicFile.makeDirectory(self.root, mode: 0o700)
    }

    /// Copies a file in under its digest (written to a temporary name, fsynced, renamed).
    /// The copy, hash and fsync of what may be gigabytes run on the NIO thread pool,
    /// never on a cooperative thread or an event loop.
    public func importFile(_ path: String) async throws -> (digest: ContentDigest, size: UInt64) {
        try await NIOThreadPool.singleton.runIfActive { try self.copyIn(path) }
    }

    /// `importFile` in place, blocking the calling thread: only for work already on the thread pool.
    func copyIn(_ path: String) throws -> (digest: ContentDigest, size: UInt64) {
        guard let input = FileHandle(forReadingAtPath: path) else {
            throw AtomicFile.Failure(path: path, operation: "open", errno: errno)
        }
        defer { try? input.close() }
        let temporary = self.root + "/.import-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o600])
        guard let output = FileHandle(forWritingAtPath: temporary) else { throw AtomicFile.Failure(path: temporary, operation: "open", errno: errno) }
        var hasher = SHA256()
        var size: UInt64 = 0
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            try output.write(contentsOf: chunk)
            size += UInt64(chunk.count)
        }
        try output.synchronize()
        try output.close()
        let digest = ContentDigest(bytes: Array(hasher.finalize()))!
        guard rename(temporary, self.root + "/" + digest.hex) == 0 else {
            unlink(temporary)
            throw AtomicFile.Failure(path: self.root + "/" + digest.hex, operation: "rename", errno: errno)
        }
        return (digest, size)
    }

    /// Stores bytes made on the controller (a config bundle) under their digest.
    public func importBytes(_ bytes: [UInt8]) throws -> (digest: ContentDigest, size: UInt64) {
        let digest = ContentDigest(of: bytes)
        let path = self.root + "/" + digest.hex
        if !FileManager.default.fileExists(atPath: path) { try AtomicFile.write(bytes, to: path, mode: 0o600) }
        return (digest, UInt64(bytes.count))
    }

    /// The offer for an object held here, or nil.
    public func offer(_ digest: ContentDigest, kind: String, name: String) -> TransferOffer? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: self.root + "/" + digest.hex),
              let size = attributes[.size] as? UInt64 else { return nil }
        return TransferOffer(digest: digest, size: size, blockSize: UInt32(self.blockSize), kind: kind, name: name)
    }

    /// A source serving `digest`'s blocks, compressed where the peer accepts zlib; nil if absent.
    public func source(for digest: ContentDigest, compress: Bool) -> ObjectSource? {
        guard let offer = self.offer(digest, kind: "", name: "") else { return nil }
        return ObjectSource(path: self.root + "/" + digest.hex, digest: digest, size: offer.size, blockSize: self.blockSize, compress: compress, cache: self.cache)
    }

    /// Blocks compressed so far (each is compressed once while it stays cached).
    public var blocksEncoded: Int { self.cache.encoded }
    /// Blocks served to agents, from the cache or freshly encoded.
    public var blocksServed: Int { self.cache.served }
}

/// Encoded blocks by (object, index, compression), within a byte budget (oldest out first).
final class BlockCache: Sendable {
    private struct Key: Hashable {
        var digest: ContentDigest
        var index: UInt64
        var compressed: Bool
    }

    private struct State {
        var blocks: [Key: EncodedBlock] = [:]
        /// One lock per block being made, so that agents asking for the same block at
        /// once wait for a single compression instead of each doing it.
        var making: [Key: NIOLock] = [:]
        var order: [Key] = []
        /// Blocks that did not shrink: only this is remembered, not their bytes (the
        /// page cache holds those as well as we could), so a large incompressible
        /// object costs no cache memory and is never tried twice.
        var incompressible: Set<Key> = []
        var bytes = 0
        var encoded = 0
        var served = 0
    }

    private let state = NIOLockedValueBox(State())
    let budget: Int

    init(budget: Int) { self.budget = budget }

    var encoded: Int { self.state.withLockedValue { $0.encoded } }
    var served: Int { self.state.withLockedValue { $0.served } }

    /// The block if it is cached now (counted as served), without waiting for anyone.
    func cachedBlock(_ digest: ContentDigest, _ index: UInt64, compressed: Bool) -> EncodedBlock? {
        self.cached(Key(digest: digest, index: index, compressed: compressed))
    }

    func block(_ digest: ContentDigest, _ index: UInt64, compressed: Bool, make: () throws -> EncodedBlock) rethrows -> EncodedBlock {
        let key = Key(digest: digest, index: index, compressed: compressed)
        let keyLock = self.state.withLockedValue { state -> NIOLock in
            if let lock = state.making[key] { return lock }
            let lock = NIOLock()
            state.making[key] = lock
            return lock
        }
        return try keyLock.withLock {
            try self.cached(key) ?? self.insert(key, try make())
        }
    }

    private func cached(_ key: Key) -> EncodedBlock? {
        self.state.withLockedValue { state -> EncodedBlock? in
            guard let hit = state.blocks[key] else { return nil }
            state.served += 1
            return hit
        }
    }

    /// Whether the block was found not to shrink.
    func isIncompressible(_ digest: ContentDigest, _ index: UInt64) -> Bool {
        self.state.withLockedValue { $0.incompressible.contains(Key(digest: digest, index: index, compressed: true)) }
    }

    private func insert(_ key: Key, _ block: EncodedBlock) -> EncodedBlock {
        self.state.withLockedValue { state in
            state.served += 1
            state.making[key] = nil
            if key.compressed, block.encoding == .raw {
                // Counted as encoded the first time only: later it is just read again.
                if state.incompressible.insert(key).inserted { state.encoded += 1 }
                if state.incompressible.count > 1 << 20 { state.incompressible.removeAll() }
                return
            }
            state.encoded += 1
            guard state.blocks[key] == nil else { return }
            state.blocks[key] = block
            state.order.append(key)
            state.bytes += block.bytes.readableBytes
            while state.bytes > self.budget, !state.order.isEmpty {
                let oldest = state.order.removeFirst()
                state.bytes -= state.blocks.removeValue(forKey: oldest)?.bytes.readableBytes ?? 0
            }
        }
        return block
    }
}

/// One object's blocks, read from its file and encoded through the shared cache.
public struct ObjectSource: TransferSource {
    let path: String
    let digest: ContentDigest
    let size: UInt64
    let blockSize: Int
    let compress: Bool
    let cache: BlockCache

    public var blockCount: UInt64 { (self.size + UInt64(self.blockSize) - 1) / UInt64(self.blockSize) }

    /// A cached block at once; otherwise read and compressed on the thread pool, never
    /// on the event loop (compressing 1 MiB takes milliseconds; the loop carries the
    /// heartbeats of every connection on it).
    public func block(at index: UInt64, on eventLoop: any EventLoop) -> EventLoopFuture<EncodedBlock> {
        if let block = self.cache.cachedBlock(self.digest, index, compressed: self.compress) {
            return eventLoop.makeSucceededFuture(block)
        }
        return NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) { try self.block(at: index) }
    }

    public func block(at index: UInt64) throws -> EncodedBlock {
        try self.cache.block(self.digest, index, compressed: self.compress) {
            let offset = index * UInt64(self.blockSize)
            let length = Int(min(UInt64(self.blockSize), self.size - offset))
            let fd = open(self.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw WireError(.notFound, "object \(self.digest) is gone") }
            defer { close(fd) }
            var raw = ByteBuffer()
            raw.reserveCapacity(length)
            let read = raw.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { max(0, pread(fd, $0.baseAddress, length, off_t(offset))) }
            guard read == length else { throw WireError(.internalError, "short read of block \(index) of \(self.digest)") }
            let known = self.compress && self.cache.isIncompressible(self.digest, index)
            return try BlockCodec(level: 6).encode(raw, index: UInt32(index), compress: self.compress && !known)
        }
    }
}
