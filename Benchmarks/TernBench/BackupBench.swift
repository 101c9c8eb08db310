import Foundation

/// What each bench site backs up (`tern-bench fleet --backup-mib M`): a folder with a
/// file every site has byte for byte (M/2 MiB) and one of its own (M/2 MiB), both
/// incompressible. The numbers (time, CPU, memory, bytes stored) are taken by
/// scripts/bench-backup.sh through the controller's CLI.
enum BackupBench {
    static func makeSiteData(_ folder: String, mib: Int, site: Int) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let half = max(1, mib << 19)
        try Data(Self.noise(half, seed: 0x5EED)).write(to: URL(fileURLWithPath: folder + "/shared.bin"))
        try Data(Self.noise(half, seed: UInt64(site) &* 0x9E37_79B9_7F4A_7C15 | 1)).write(to: URL(fileURLWithPath: folder + "/own.bin"))
    }

    /// Fast pseudo-random bytes (xorshift64*), incompressible for zlib.
    static func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for index in words.indices {
                state ^= state >> 12
                state ^= state << 25
                state ^= state >> 27
                words[index] = state &* 0x2545_F491_4F6C_DD1D
            }
        }
        return bytes
    }
}
