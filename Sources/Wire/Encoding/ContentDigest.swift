import Crypto
import NIOCore

/// A SHA-256 digest: the address of every transfer object (PROTOCOL.md §7.1).
public struct ContentDigest: Hashable, Sendable, CustomStringConvertible, Comparable {
    public static let byteCount = 32

    /// The 32 digest bytes.
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == ContentDigest.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Parses 64 lowercase or uppercase hex characters.
    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == ContentDigest.byteCount * 2 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ContentDigest.byteCount)
        for pair in stride(from: 0, to: utf8.count, by: 2) {
            guard let high = hexValue(utf8[pair]), let low = hexValue(utf8[pair + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self.bytes = bytes
    }

    /// The SHA-256 of `bytes`.
    public init(of bytes: [UInt8]) {
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        self.init(hasher.finalize())
    }

    /// The SHA-256 of the readable bytes of `buffer`.
    public init(of buffer: ByteBuffer) {
        var hasher = SHA256()
        buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        self.init(hasher.finalize())
    }

    init(_ digest: SHA256.Digest) {
        self.bytes = Array(digest)
    }

    public var hex: String {
        self.bytes.map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
        }.joined()
    }

    public var description: String { "sha256:" + self.hex }

    public static func < (lhs: ContentDigest, rhs: ContentDigest) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}

private func hexValue(_ char: UInt8) -> UInt8? {
    switch char {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return char - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return char - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return char - UInt8(ascii: "A") + 10
    default: return nil
    }
}
