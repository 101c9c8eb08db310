import Agent
import Controller
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Platform
import ServiceLifecycle
import Wire

/// `tern-bench responsiveness --work DIR [--size-mib N]`: a controller, an agent and a
/// PING probe (a second agent connection) in this one process, sharing its event
/// loops and cooperative pool and nothing else; two imports of an N MiB file and its
/// receive by the agent run at once. Prints the worst PING round trip and the worst
/// overrun of a 10 ms sleep: if file work ran on a loop or a cooperative thread,
/// they would stall for as long as it does. (A process of its own, so that no other
/// work — other tests — shares the pool it measures.)
enum ResponsivenessBench {
    static func run(arguments: [String]) async throws {
        func value(_ flag: String) -> String? {
            guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
            return arguments[index + 1]
        }
        let work = value("--work") ?? FileManager.default.temporaryDirectory.appendingPathComponent("tern-bench-responsiveness").path
        let mebibytes = Int(value("--size-mib") ?? "") ?? 1024
        var logger = Logger(label: "bench")
        logger.logLevel = .critical

        var configuration = ControllerConfiguration(dataDirectory: work + "/controller")
        configuration.listenPort = 0
        configuration.enrolPort = 0
        configuration.apiPort = 0
        configuration.heartbeatInterval = .milliseconds(500)
        configuration.drainTimeout = .seconds(1)
        let controller = try await ControllerApp.build(configuration: configuration, logger: logger)
        let port = controller.wireServer.localAddress!.port!
        let source = work + "/big.bin"
        try Self.writeObject(source, mebibytes: mebibytes)
        let (digest, _) = try await controller.objects.importFile(source)
        let agent = ControllerLink(configuration: try await Self.provision("edge-01", controller, work: work, port: port), logger: logger)
        let probeIdentity = try AgentIdentity.load(stateDirectory: try await Self.provision("probe", controller, work: work, port: port).stateDirectory)

        let group = ServiceGroup(configuration: .init(services: controller.services.map { .init(service: $0) } + [.init(service: agent)], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while await controller.live.count < 1 { try await Task.sleep(for: .milliseconds(50)) }
            let probe = try await Self.connect(probeIdentity, port: port)
            let stop = NIOLockedValueBox(false)
            async let lateness = Self.cooperativeLateness(until: stop)
            async let pings = Self.pingRoundTrips(probe, until: stop)
            let started = ContinuousClock.now
            guard try await controller.offer(digest, kind: "firmware", name: "big", to: "edge-01") else { throw BenchFailure("the agent is not connected") }
            async let first = controller.objects.importFile(source)
            async let second = controller.objects.importFile(source)
            let imported = try await [first.digest, second.digest]
            let received = work + "/agent-edge-01/transfers/objects/" + digest.hex
            while !FileManager.default.fileExists(atPath: received), ContinuousClock.now - started < .seconds(300) {
                try await Task.sleep(for: .milliseconds(100))
            }
            let elapsed = ContinuousClock.now - started
            stop.withLockedValue { $0 = true }
            let (worstLateness, (trips, stayedUp)) = try await (lateness, pings)
            let worstTrip = trips.max() ?? .zero
            print("responsiveness: \(mebibytes) MiB imported twice and received in \(elapsed); \(trips.count) PINGs, worst round trip \(worstTrip.nanoseconds / 1_000_000) ms; worst 10 ms sleep overrun \(worstLateness)")
            print(String(
                format: "RESPONSIVENESS imported=%d received=%d stayed_up=%d pings=%d worst_ping_ms=%.1f worst_overrun_ms=%.1f",
                imported == [digest, digest] ? 1 : 0, FileManager.default.fileExists(atPath: received) ? 1 : 0, stayedUp ? 1 : 0, trips.count,
                Double(worstTrip.nanoseconds) / 1e6, Double(worstLateness.components.attoseconds) / 1e15 + Double(worstLateness.components.seconds) * 1000
            ))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    struct BenchFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Registers `name` and writes its identity, as enrolment would.
    static func provision(_ name: String, _ controller: ControllerApp, work: String, port: Int) async throws -> AgentConfiguration {
        let state = work + "/agent-" + name
        try await controller.provisionAgent(name, stateDirectory: state, controller: "127.0.0.1:\(port)")
        var configuration = AgentConfiguration(stateDirectory: state, controllerHost: "127.0.0.1", controllerPort: port)
        configuration.useFwupd = false
        return configuration
    }

    static func connect(_ identity: AgentIdentity, port: Int) async throws -> NIOAsyncChannel<WireEvent, WireCommand> {
        let context = try NIOSSLContext(configuration: try identity.tls())
        let session = SessionConfiguration(identity: identity.name, software: "tern-bench probe")
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                try channel.pipeline.syncOperations.addHandler(WireConnectionHandler(role: .client, configuration: session, logger: Logger(label: "probe")))
                return try NIOAsyncChannel<WireEvent, WireCommand>(wrappingChannelSynchronously: channel)
            }
        }
    }

    /// The longest a 10 ms sleep overran, until `stop`.
    static func cooperativeLateness(until stop: NIOLockedValueBox<Bool>) async throws -> Duration {
        var worst = Duration.zero
        while !stop.withLockedValue({ $0 }) {
            let start = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(10))
            worst = max(worst, ContinuousClock.now - start - .milliseconds(10))
        }
        return worst
    }

    /// PING round trips, one every 100 ms until `stop`, and whether the connection stayed up.
    static func pingRoundTrips(_ connection: NIOAsyncChannel<WireEvent, WireCommand>, until stop: NIOLockedValueBox<Bool>) async throws -> ([TimeAmount], Bool) {
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
                        try? await outbound.write(.ping)
                    }
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

    /// Bytes that do not compress, written in 1 MiB pieces.
    static func writeObject(_ path: String, mebibytes: Int) throws {
        var state: UInt64 = 11
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        for index in chunk.indices {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            chunk[index] = UInt8(truncatingIfNeeded: z ^ (z >> 31))
        }
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw BenchFailure("cannot create \(path)") }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        for index in 0..<mebibytes {
            chunk[0] = UInt8(truncatingIfNeeded: index)
            chunk[1] = UInt8(truncatingIfNeeded: index >> 8)
            try handle.write(contentsOf: chunk)
        }
    }
}
