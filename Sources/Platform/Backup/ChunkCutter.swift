/// Content-defined chunking (a gear rolling hash, as FastCDC uses): cut points
/// depend on the bytes around them, not on their offsets, so inserting or changing
/// a few bytes moves only the chunks around the change and every other chunk of a
/// second backup is one the controller already holds.
///
/// Pure: feed it bytes, it answers where chunks end. Chunks are at least `minimum`
/// and at most `maximum` bytes; past the minimum a cut comes with probability
/// 2^-maskBits per byte, so on varied data the average is near `minimum +
/// 2^maskBits` (512 KiB + 512 KiB = 1 MiB with the defaults).
public struct ChunkCutter: Sendable {
    public let minimum: Int
    public let maximum: Int
    private let mask: UInt64
    private var hash: UInt64 = 0
    /// Bytes in the chunk so far.
    public private(set) var length = 0

    public init(minimum: Int = 512 << 10, maskBits: Int = 19, maximum: Int = 4 << 20) {
        precondition(minimum > 64 && maximum > minimum && (1...48).contains(maskBits))
        self.minimum = minimum
        self.maximum = maximum
        // The highest bits of the gear hash mix the most bytes; test those.
        self.mask = ((1 << UInt64(maskBits)) - 1) << UInt64(64 - maskBits)
    }

    /// Scans `bytes` (the continuation of the current chunk); returns how many of
    /// them belong to it when it ends inside them (then the cutter starts a new
    /// chunk), nil when all of them do and it goes on.
    public mutating func cut(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var index = 0
        // Below the minimum nothing can cut: skip the hash there (but keep the last
        // 64 bytes in it, which are all a 64-bit gear hash remembers).
        let skip = max(0, min(bytes.count, self.minimum - self.length - 64))
        index = skip
        self.length += skip
        while index < bytes.count {
            self.hash = (self.hash << 1) &+ Self.gear[Int(bytes[index])]
            index += 1
            self.length += 1
            if self.length >= self.maximum || (self.length >= self.minimum && self.hash & self.mask == 0) {
                self.hash = 0
                self.length = 0
                return index
            }
        }
        return nil
    }

    /// 256 fixed pseudo-random words (splitmix64 from a fixed seed): the same on
    /// every site and every version, so equal bytes cut equally everywhere.
    static let gear: [UInt64] = {
        var state: UInt64 = 0x7465_726E_6364_6321  // "terncdc!"
        return (0..<256).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }()
}
