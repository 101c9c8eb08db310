import Agent
import Platform
import Controller
import Foundation
import NIOCore
import TernTestSupport
import Testing
import Wire

/// Objects from the controller's store to agents over real mutual TLS.
@Suite(.serialized) struct TransferTests {
    /// 3 MiB of text (zlib shrinks it) then 3 MiB of random bytes (sent raw).
    static func object() -> [UInt8] {
        var bytes = [UInt8]()
        var line = 0
        while bytes.count < 3 << 20 {
            bytes += Array("2026-11-29T10:00:\(line % 60) edge kernel: eth0 link up, \(line) packets\n".utf8)
            line += 1
        }
        bytes = Array(bytes.prefix(3 << 20))
        var generator = SplitMix(seed: 9)
        bytes += (0..<(3 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        return bytes
    }

    static func importObject(_ bytes: [UInt8], into controller: ControllerApp, directory: TemporaryDirectory) async throws -> ContentDigest {
        let path = directory.appending("object.bin")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try await controller.objects.importFile(path).digest
    }

    @Test("two agents receive an offered object intact; each block is compressed once for both")
    func fanOut() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        let bytes = Self.object()
        let digest = try await Self.importObject(bytes, into: controller, directory: directory)
        let agents = [try await makeAgent("edge-01", controller: controller, directory: directory), try await makeAgent("edge-02", controller: controller, directory: directory)]
        try await withServices(controller.services + agents) {
            let connected = await eventually { await controller.live.count == 2 }
            #expect(connected)
            for name in ["edge-01", "edge-02"] {
                #expect(try await controller.offer(digest, kind: "firmware", name: "image.bin", to: name))
            }
            let paths = ["edge-01", "edge-02"].map { directory.appending("agent-\($0)/transfers/objects/\(digest.hex)") }
            let arrived = await eventually(timeout: .seconds(20)) { paths.allSatisfy { FileManager.default.fileExists(atPath: $0) } }
            #expect(arrived)
            for path in paths {
                let received = try Data(contentsOf: URL(fileURLWithPath: path))
                #expect(received == Data(bytes))
            }
            #expect(controller.objects.blocksEncoded == 6)
            #expect(controller.objects.blocksServed == 12)
        }
    }

    @Test("an agent that already holds some blocks asks only for the rest")
    func resume() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        let bytes = Self.object()
        let digest = try await Self.importObject(bytes, into: controller, directory: directory)
        let agent = try await makeAgent("edge-01", controller: controller, directory: directory)
        // As if a previous connection was cut after four blocks.
        let store = try TransferStore(stateDirectory: directory.appending("agent-edge-01"))
        let partial = try store.begin(TransferOffer(digest: digest, size: UInt64(bytes.count), blockSize: 1 << 20, kind: "", name: ""))
        for index in 0..<4 {
            let start = index << 20
            try partial.write(BlockPiece(index: UInt32(index), rawLength: 1 << 20, offset: 0, bytes: ByteBuffer(bytes: bytes[start..<(start + (1 << 20))])))
        }
        try await withServices(controller.services + [agent]) {
            let connected = await eventually { await controller.live.count == 1 }
            #expect(connected)
            #expect(try await controller.offer(digest, kind: "firmware", name: "image.bin", to: "edge-01"))
            let path = directory.appending("agent-edge-01/transfers/objects/\(digest.hex)")
            let arrived = await eventually(timeout: .seconds(20)) { FileManager.default.fileExists(atPath: path) }
            #expect(arrived)
            let received = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(received == Data(bytes))
            #expect(controller.objects.blocksServed == 2)
        }
    }

    @Test("an object corrupted at the source is refused by the agent and never published")
    func corruptedSource() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        let bytes = Self.object()
        let digest = try await Self.importObject(bytes, into: controller, directory: directory)
        // One flipped byte in the stored object, after its digest was taken.
        let stored = controller.objects.root + "/" + digest.hex
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: stored))
        try handle.seek(toOffset: 5_000_000)
        try handle.write(contentsOf: Data([bytes[5_000_000] ^ 0xFF]))
        try handle.close()
        let agent = try await makeAgent("edge-01", controller: controller, directory: directory)
        try await withServices(controller.services + [agent]) {
            let connected = await eventually { await controller.live.count == 1 }
            #expect(connected)
            let offered = try await controller.offer(digest, kind: "firmware", name: "image.bin", to: "edge-01")
            #expect(offered)
            let served = await eventually(timeout: .seconds(20)) { controller.objects.blocksServed == 6 }
            #expect(served)
            // The agent checks the digest after the last block and drops the partial file
            // (on a loaded machine that can take more than the half second once allowed).
            let dropped = await eventually(timeout: .seconds(10)) {
                !FileManager.default.fileExists(atPath: directory.appending("agent-edge-01/transfers/partial/\(digest.hex)"))
            }
            #expect(dropped, "the partial file of a corrupted object is still there")
            #expect(!FileManager.default.fileExists(atPath: directory.appending("agent-edge-01/transfers/objects/\(digest.hex)")))
        }
    }

    @Test("100 random cuts during a 64 MiB transfer (raw blocks): it resumes inside the block after each; no cut costs more than a block")
    func cutsAndResume() async throws {
        var generator = SplitMix(seed: 3)
        let bytes = (0..<(64 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        try await Self.cuts(object: bytes, count: 100, cutRange: 50_000..<1_050_000, seed: 3, label: "random")
    }

    @Test("100 random cuts during a compressible 64 MiB transfer (zlib blocks): continuations pick up the cached compressed bytes")
    func cutsAndResumeCompressed() async throws {
        var generator = SplitMix(seed: 11)
        // Text-like: short random words, so every block deflates.
        let words = (0..<4096).map { _ in String((0..<(3 + Int(generator.next() % 8))).map { _ in Character(UnicodeScalar(97 + UInt8(generator.next() % 26))) }) }
        var text = [UInt8]()
        text.reserveCapacity(64 << 20)
        while text.count < 64 << 20 { text += Array((words[Int(generator.next() % 4096)] + " ").utf8) }
        try await Self.cuts(object: Array(text.prefix(64 << 20)), count: 100, cutRange: 20_000..<300_000, seed: 11, label: "text")
    }

    /// Delivers `object` through a proxy that cuts each of `count` connections after a
    /// number of bytes drawn from `cutRange` (mid-block, mid-frame, sometimes
    /// mid-handshake of the next one); checks the object and what each cut cost.
    static func cuts(object bytes: [UInt8], count: Int, cutRange: Range<Int>, seed: UInt64, label: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        var generator = SplitMix(seed: seed)
        let digest = try await Self.importObject(bytes, into: controller, directory: directory)
        let proxy = try await FaultProxy(targetPort: controller.wireServer.localAddress!.port!)
        let cuts = (0..<count).map { _ in cutRange.lowerBound + Int(generator.next() % UInt64(cutRange.count)) }
        proxy.scheduleCuts(cuts)
        let status = LinkStatus()
        let agent = try await makeAgent("edge-01", controller: controller, directory: directory, status: status, via: proxy.port)
        try await withServices(controller.services + [agent]) {
            #expect(try await controller.offer(digest, kind: "firmware", name: "image.bin", to: "edge-01"))
            let path = directory.appending("agent-edge-01/transfers/objects/\(digest.hex)")
            let arrived = await eventually(timeout: .seconds(240)) { FileManager.default.fileExists(atPath: path) }
            #expect(arrived)
            let received = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(received == Data(bytes))
            #expect(proxy.cutsDone == cuts.count)
            // Bytes this site received although it held them: per connection, i.e. per cut.
            let connections = await status.connections
            var perCut = await status.resentPerConnection
            perCut += [Int](repeating: 0, count: max(0, connections - perCut.count))
            let worst = perCut.max() ?? 0
            let mean = perCut.reduce(0, +) / max(1, perCut.count)
            #expect(worst <= (1 << 20) + WireLimits.blockHeaderSize, "a cut re-sent \(worst) bytes")
            // Resuming inside the block: far below a block on average.
            #expect(mean < (1 << 20) / 8, "\(mean) bytes re-sent per cut on average")
            // Against one uncut transfer of the same blocks: only a 13-byte header per continuation more.
            var uncut = 0
            for start in stride(from: 0, to: bytes.count, by: 1 << 20) {
                let raw = ByteBuffer(bytes: bytes[start..<min(bytes.count, start + (1 << 20))])
                uncut += try BlockCodec(level: 6).encode(raw, index: UInt32(start >> 20), compress: true).wireSize
            }
            let overhead = await status.transferBytes - uncut
            #expect(overhead >= 0 && overhead <= connections * 2 * WireLimits.blockHeaderSize, "\(overhead) bytes beyond one uncut transfer")
            print("\(label): transfer-stream bytes beyond one uncut transfer: \(overhead); re-sent per cut over \(connections) connections (\(cuts.count) cuts): mean \(mean) bytes, max \(worst) bytes (block size \(1 << 20))")
        }
        try await proxy.close()
    }

    @Test("heartbeats keep arriving on time while a large object streams")
    func heartbeatsDuringTransfer() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory, heartbeat: .milliseconds(200))
        var generator = SplitMix(seed: 5)
        let bytes = (0..<(64 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let digest = try await Self.importObject(bytes, into: controller, directory: directory)
        let agent = try await makeAgent("edge-01", controller: controller, directory: directory)
        try await withServices(controller.services + [agent]) {
            let connected = await eventually { await controller.live.count == 1 }
            #expect(connected)
            #expect(try await controller.offer(digest, kind: "ostree-delta", name: "big", to: "edge-01"))
            let path = directory.appending("agent-edge-01/transfers/objects/\(digest.hex)")
            var last = await controller.live.lastHeard["edge-01"]
            var lastChange = ContinuousClock.now
            var worstGap = Duration.zero
            let deadline = ContinuousClock.now + .seconds(60)
            while !FileManager.default.fileExists(atPath: path), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                let heard = await controller.live.lastHeard["edge-01"]
                if heard != last {
                    worstGap = max(worstGap, ContinuousClock.now - lastChange)
                    last = heard
                    lastChange = ContinuousClock.now
                }
            }
            #expect(FileManager.default.fileExists(atPath: path))
            // Heartbeats every 200 ms; a control frame never queues behind more than one bulk frame.
            // (Loose bound for a loaded CI machine: queued behind the transfer, the gap would be the whole transfer, seconds.)
            #expect(worstGap < .milliseconds(1500), "longest silence during the transfer: \(worstGap)")
        }
    }
}
