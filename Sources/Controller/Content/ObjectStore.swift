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
