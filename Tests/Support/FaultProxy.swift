import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP proxy on 127.0.0.1 that injects faults between an agent and a controller:
/// it can cut a connection after a number of bytes from the server, as a flaky link would.
public final class FaultProxy: Sendable {
    private let server: Channel
    private let state = NIOLockedValueBox(State())

    private struct State {
        /// Cut each connection after this many server→client bytes; taken in order, one per connection.
        var cuts: [Int] = []
        /// Cut each connection after this many client→server bytes (uploads); one per connection.
        var uploadCuts: [Int] = []
        /// Stall every connection after this many server→client bytes: it stays up, nothing more arrives.
        var stallAfter: Int?
        var connections = 0
        var cutsDone = 0
        var bytesForwarded = 0
        /// Relayed connections open now, by their client side.
        var open: [ObjectIdentifier: Channel] = [:]
    }

    public var port: Int { self.server.localAddress!.port! }
    public var connections: Int { self.state.withLockedValue { $0.connections } }
    public var cutsDone: Int { self.state.withLockedValue { $0.cutsDone } }

    /// Listens on an OS-chosen port and forwards to `targetPort`.
    public init(targetPort: Int, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let state = self.state
        self.server = try await ServerBootstrap(group: group)
            .childChannelOption(.autoRead, value: true)
            .childChannelInitializer { inbound in
                let (limit, stall, upLimit) = state.withLockedValue { state -> (Int?, Bool, Int?) in
                    state.connections += 1
                    state.open[ObjectIdentifier(inbound)] = inbound
                    let up = state.uploadCuts.isEmpty ? nil : state.uploadCuts.removeFirst()
                    if let stallAfter = state.stallAfter { return (stallAfter, true, up) }
                    return (state.cuts.isEmpty ? nil : state.cuts.removeFirst(), false, up)
                }
                inbound.closeFuture.whenComplete { _ in state.withLockedValue { state in _ = state.open.removeValue(forKey: ObjectIdentifier(inbound)) } }
                return ClientBootstrap(group: inbound.eventLoop)
                    .connect(host: "127.0.0.1", port: targetPort)
                    .flatMap { outbound in
                        let forwarded: @Sendable (Int) -> Void = { count in state.withLockedValue { $0.bytesForwarded += count } }
                        let toServer = Relay(peer: outbound, limit: upLimit, onCut: { state.withLockedValue { $0.cutsDone += 1 } }, onForward: forwarded)
                        let toClient = Relay(peer: inbound, limit: limit, stall: stall, onCut: { state.withLockedValue { $0.cutsDone += 1 } }, onForward: forwarded)
                        return inbound.pipeline.addHandler(toServer).flatMap { outbound.pipeline.addHandler(toClient) }
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// Cut the next connections after these numbers of bytes from the server.
    public func scheduleCuts(_ cuts: [Int]) {
        self.state.withLockedValue { $0.cuts += cuts }
    }

    /// Cut the next connections after these numbers of bytes from the client (an agent's upload).
    public func scheduleUploadCuts(_ cuts: [Int]) {
        self.state.withLockedValue { $0.uploadCuts += cuts }
    }

    /// From now on, every connection stalls after `bytes` from the server: a link that
    /// lets a handshake through and then never delivers a transfer.
    public func stall(after bytes: Int) {
        self.state.withLockedValue { $0.stallAfter = bytes }
    }

    public func close() async throws {
        try await self.server.close()
    }

    /// As a controller replica that dies: the listener closes and every relayed
    /// connection is cut at once.
    public func shutDown() async throws {
        try await self.server.close()
        for channel in self.state.withLockedValue({ Array($0.open.values) }) { try? await channel.close() }
    }
}
