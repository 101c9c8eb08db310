#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files so that a crash leaves the old content or the new, never a mix:
/// write a temporary file beside the target, fsync it, rename it over the target,
/// fsync the directory.
public enum AtomicFile {
    public struct Failure: Error, CustomStringConvertible {
        public var path: String
        public var operation: String
        public var errno: Int32

        public init(path: String, operation: String, errno: Int32) {
            self.path = path
            self.operation = operation
            self.errno = errno
        }

        public var description: String { "\(self.operation) \(self.path): \(String(cString: strerror(self.errno)))" }
    }

    /// Replaces `path` with `bytes`, created with `mode` (0600 for keys and tokens).
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure(path: temporary, operation: "open", errno: errno) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                let error = errno
                close(fd)
                unlink(temporary)
                throw Failure(path: temporary, operation: "write", errno: error)
            }
            written += result
        }
        fchmod(fd, mode)
        guard fsync(fd) == 0 else {
            let error = errno
            close(fd)
            unlink(temporary)
            throw Failure(path: temporary, operation: "fsync", errno: error)
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let error = errno
            unlink(temporary)
            throw Failure(path: path, operation: "rename", errno: error)
        }
        Self.syncDirectory(of: path)
    }

    public static func write(_ string: String, to path: String, mode: mode_t = 0o644) throws {
        try self.write(Array(string.utf8), to: path, mode: mode)
    }

    /// The whole file, or nil when it does not exist.
    public static func read(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw Failure(path: path, operation: "open", errno: errno)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(path: path, operation: "read", errno: errno)
            }
            if count == 0 { return result }
            result += chunk[0..<count]
        }
    }

    public static func readString(_ path: String) throws -> String? {
        try self.read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Creates `path` and its parents with `mode` if missing.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o750) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            if mkdir(prefix, mode) != 0, errno != EEXIST {
                throw Failure(path: prefix, operation: "mkdir", errno: errno)
            }
        }
    }

    private static func syncDirectory(of path: String) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
