import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Wire

#if canImport(Glibc)
import Glibc
#endif

/// Encoded blocks by (object, index, compression), within a byte budget (oldest out first).
public final class BlockCache: Sendable {
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

    public init(budget: Int) { self.budget = budget }

    public var encoded: Int { self.state.withLockedValue { $0.encoded } }
    public var served: Int { self.state.withLockedValue { $0.served } }

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

    public init(path: String, digest: ContentDigest, size: UInt64, blockSize: Int, compress: Bool, cache: BlockCache) {
        self.path = path
        self.digest = digest
        self.size = size
        self.blockSize = blockSize
        self.compress = compress
        self.cache = cache
    }

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
