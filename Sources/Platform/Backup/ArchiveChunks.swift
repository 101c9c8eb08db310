import Crypto
import Foundation
import Wire

#if canImport(Glibc)
import Glibc
#endif

/// Cutting an archive file into content-defined chunks stored by digest, and
/// joining chunks back into the archive. Blocking file work: callers run it on a
/// thread pool, never on an event loop or a cooperative thread.
public enum ArchiveChunks {
    /// Splits `archive` into `directory/<sha256>` files (each written, fsynced and
    /// renamed; a chunk already there is kept), or with no directory only lists them;
    /// returns the archive's digest and size and the chunks in order.
    public static func split(_ archive: String, into directory: String?, cutter: ChunkCutter = ChunkCutter()) throws -> (archive: BackupManifest.Archive, chunks: [BackupManifest.Chunk]) {
        if let directory { try AtomicFile.makeDirectory(directory, mode: 0o700) }
        guard let input = FileHandle(forReadingAtPath: archive) else { throw AtomicFile.Failure(path: archive, operation: "open", errno: errno) }
        defer { try? input.close() }
        var cutter = cutter
        var whole = SHA256()
        var chunks: [BackupManifest.Chunk] = []
        var pending: [UInt8] = []
        var size: UInt64 = 0
        func emit() throws {
            guard !pending.isEmpty else { return }
            let digest = ContentDigest(of: pending)
            if let directory, !FileManager.default.fileExists(atPath: directory + "/" + digest.hex) {
                try AtomicFile.write(pending, to: directory + "/" + digest.hex, mode: 0o600)
            }
            chunks.append(BackupManifest.Chunk(sha256: digest.hex, size: UInt64(pending.count)))
            pending.removeAll(keepingCapacity: true)
        }
        while let data = try input.read(upToCount: 1 << 20), !data.isEmpty {
            whole.update(data: data)
            size += UInt64(data.count)
            var start = data.startIndex
            while start < data.endIndex {
                let taken = data[start...].withUnsafeBytes { cutter.cut($0) }
                let end = taken.map { start + $0 } ?? data.endIndex
                pending.append(contentsOf: data[start..<end])
                if taken != nil { try emit() }
                start = end
            }
        }
        try emit()
        return (BackupManifest.Archive(sha256: ContentDigest(bytes: Array(whole.finalize()))!.hex, size: size), chunks)
    }

    /// The SHA-256 of a file, hex.
    public static func digest(of path: String) throws -> String {
        guard let input = FileHandle(forReadingAtPath: path) else { throw AtomicFile.Failure(path: path, operation: "open", errno: errno) }
        defer { try? input.close() }
        var hasher = SHA256()
        while let data = try input.read(upToCount: 1 << 20), !data.isEmpty { hasher.update(data: data) }
        return ContentDigest(bytes: Array(hasher.finalize()))!.hex
    }

    /// Writes the chunks (paths in order) into `archive`, checking each chunk's digest
    /// and the whole archive's against the manifest; fsyncs it.
    public static func join(_ manifest: BackupManifest, chunkPath: (String) -> String, into archive: String) throws {
        FileManager.default.createFile(atPath: archive, contents: nil, attributes: [.posixPermissions: 0o600])
        guard let output = FileHandle(forWritingAtPath: archive) else { throw AtomicFile.Failure(path: archive, operation: "open", errno: errno) }
        defer { try? output.close() }
        var whole = SHA256()
        for chunk in manifest.chunks {
            guard let bytes = try AtomicFile.read(chunkPath(chunk.sha256)) else {
                throw BackupManifest.Invalid("chunk \(chunk.sha256) is missing")
            }
            guard ContentDigest(of: bytes).hex == chunk.sha256 else { throw BackupManifest.Invalid("chunk \(chunk.sha256) does not match its digest") }
            whole.update(data: bytes)
            try output.write(contentsOf: bytes)
        }
        try output.synchronize()
        let digest = ContentDigest(bytes: Array(whole.finalize()))!.hex
        guard digest == manifest.archive.sha256 else {
            throw BackupManifest.Invalid("the joined archive's SHA-256 is \(digest), the manifest says \(manifest.archive.sha256)")
        }
    }
}
