import Foundation
import NIOConcurrencyHelpers
import NIOCore
import TernTestSupport
import Testing
import Wire
@testable import Agent
@testable import Controller

/// Controller, agent and probe in this one process, so that they share its event
/// loops and its cooperative thread pool: if either blocked on file work, the probe
/// would see it.
@Suite struct ResponsivenessTests {
    /// The longest a 10 ms sleep overran, measured until `stop`.
    static func cooperativeLateness(until stop: NIOLockedValueBox<Bool>) async throws -> Duration {
        var worst = Duration.zero
        while !stop.withLockedValue({ $0 }) {
            let start = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(10))
            worst = max(worst, ContinuousClock.now - start - .milliseconds(10))
        }
        return worst
    }

    /// PING round trips over a separate agent connection, one every 100 ms until
    /// `stop`, and whether the connection stayed up all along.
    static func pingRoundTrips(_ connection: AdmissionTests.Connection, until stop: NIOLockedValueBox<Bool>) async throws -> (trips: [TimeAmount], stayedUp: Bool) {
        try await connection.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: ([TimeAmount], Bool).self) { group in
                group.addTask {
                    var seen: [TimeAmount] = []
                    do {
                        for try await event in inbound {
                            if case .roundTrip(let value) = event { seen.append(value) }
                            if stop.withLockedValue({ $0 }) { return (seen, true) }
                        }
                    } catch {}
                    return (seen, stop.withLockedValue { $0 })
                }
                group.addTask {
                    while !stop.withLockedValue({ $0 }) {
                        try await Task.sleep(for: .milliseconds(100))
                        // Fails once the connection is gone; the reader reports that.
                        try? await outbound.write(.ping)
                    }
                    // One more, so the reader wakes and sees the stop.
                    try? await outbound.write(.ping)
                    return ([], true)
                }
                var all: [TimeAmount] = []
                var stayedUp = true
                for try await (part, up) in group {
                    all += part
                    stayedUp = stayedUp && up
                }
                return (all, stayedUp)
            }
        }
    }

    /// 1 GiB of bytes that do not compress, written in 1 MiB pieces.
    static func writeObject(_ path: String, mebibytes: Int) throws {
        var generator = SplitMix(seed: 11)
        var chunk = (0..<(1 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        for index in 0..<mebibytes {
            chunk[0] = UInt8(truncatingIfNeeded: index)
            chunk[1] = UInt8(truncatingIfNeeded: index >> 8)
            try handle.write(contentsOf: chunk)
        }
    }

    @Test("event loops and the cooperative pool stay responsive while 1 GiB is imported twice and 1 GiB is received")
    func responsiveUnderBulkFileWork() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        let source = directory.appending("big.bin")
        try Self.writeObject(source, mebibytes: 1024)
        let (digest, _) = try await controller.objects.importFile(source)
        let agent = try await makeAgent("edge-01", controller: controller, directory: directory)
        try await withServices(controller.services + [agent]) {
            #expect(await eventually { await controller.live.count == 1 })
            let (certificate, key) = try await AdmissionTests.registered("probe", controller)
            let probe = try await AdmissionTests.connect(controller, certificate: certificate, key: key, identity: "probe")
            let stop = NIOLockedValueBox(false)
            async let lateness = Self.cooperativeLateness(until: stop)
            async let roundTrips = Self.pingRoundTrips(probe, until: stop)
            // The receive and two more imports of the same gigabyte, all at once: as many
            // as this machine has cooperative threads (2 on CI), so that file work done
            // on them would leave none for anything else.
            #expect(try await controller.offer(digest, kind: "firmware", name: "big", to: "edge-01"))
            let started = ContinuousClock.now
            async let first = controller.objects.importFile(source)
            async let second = controller.objects.importFile(source)
            let imported = try await [first.digest, second.digest]
            let received = directory.appending("agent-edge-01/transfers/objects/\(digest.hex)")
            let arrived = await eventually(timeout: .seconds(240), every: .milliseconds(100)) { FileManager.default.fileExists(atPath: received) }
            let elapsed = ContinuousClock.now - started
            stop.withLockedValue { $0 = true }
            let (worstLateness, (trips, stayedUp)) = try await (lateness, roundTrips)
            #expect(stayedUp, "the probe's connection was closed while the file work ran")
            #expect(imported == [digest, digest])
            #expect(arrived)
            let worstTrip = trips.max() ?? .zero
            print("responsiveness: \(elapsed) for the import and the receive; \(trips.count) PINGs, worst round trip \(worstTrip.nanoseconds / 1_000_000) ms; worst 10 ms sleep overrun \(worstLateness)")
            #expect(trips.count >= 5, "too few PINGs answered: \(trips.count)")
            // Loose bounds for a loaded CI machine. Blocking file work on a loop or the pool
            // stalls these for whole seconds (an fsync of 1 GiB alone takes that long).
            #expect(worstTrip < .milliseconds(750), "worst PING round trip \(worstTrip.nanoseconds / 1_000_000) ms")
            #expect(worstLateness < .milliseconds(750), "a 10 ms sleep overran by \(worstLateness)")
        }
    }
}
