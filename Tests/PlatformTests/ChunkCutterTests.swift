import Foundation
import Platform
import Testing

@Suite("Content-defined chunking")
struct ChunkCutterTests {
    /// Deterministic pseudo-random bytes (xorshift), so a failure can be replayed.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    /// Chunk lengths of `data`, fed in pieces of `piece` bytes.
    static func cuts(_ data: [UInt8], piece: Int = 100_000) -> [Int] {
        var cutter = ChunkCutter()
        var lengths: [Int] = []
        var current = 0
        var start = 0
        while start < data.count {
            let end = min(start + piece, data.count)
            var offset = start
            while offset < end {
                let taken = data[offset..<end].withUnsafeBytes { cutter.cut($0) }
                if let taken {
                    lengths.append(current + taken)
                    current = 0
                    offset += taken
                } else {
                    current += end - offset
                    offset = end
                }
            }
            start = end
        }
        if current > 0 { lengths.append(current) }
        return lengths
    }

    /// Runs `body` on a thread of its own: seconds of byte loops (a debug build) must
    /// not hold one of the cooperative pool's threads that every other test shares.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }

    @Test("chunks stay between 512 KiB and 4 MiB, average near 1 MiB, and do not depend on how the bytes are fed")
    func bounds() async {
        await Self.offPool { Self.checkBounds() }
    }

    static func checkBounds() {
        let data = Self.bytes(24 << 20, seed: 7)
        let lengths = Self.cuts(data)
        #expect(lengths.reduce(0, +) == data.count)
        #expect(lengths.dropLast().allSatisfy { $0 >= 512 << 10 && $0 <= 4 << 20 }, "\(lengths)")
        let average = Double(data.count) / Double(lengths.count)
        #expect(average > 0.7 * Double(1 << 20) && average < 1.5 * Double(1 << 20), "average \(average)")
        #expect(Self.cuts(data, piece: 4096) == lengths)
        #expect(Self.cuts(data, piece: 3_000_001) == lengths)
    }

    @Test("bytes inserted in the middle change only the chunks around them")
    func resynchronises() async {
        await Self.offPool { Self.checkResynchronises() }
    }

    static func checkResynchronises() {
        let data = Self.bytes(12 << 20, seed: 11)
        var edited = data
        edited.insert(contentsOf: Array("an edit".utf8), at: 6 << 20)
        func chunks(_ bytes: [UInt8]) -> [[UInt8]] {
            var offset = 0
            return Self.cuts(bytes).map { length in
                defer { offset += length }
                return Array(bytes[offset..<offset + length])
            }
        }
        let before = Set(chunks(data).map { $0.hashValue })
        let after = chunks(edited)
        let changed = after.filter { !before.contains($0.hashValue) }.count
        #expect(changed >= 1 && changed <= 2, "\(changed) of \(after.count) chunks changed")
    }
}
