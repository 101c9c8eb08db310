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
        var connections = 0
        var cutsDone = 0
        var bytesForwarded = 0
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
                let limit = state.withLockedValue { state -> Int? in
                    state.connections += 1
                    return state.cuts.isEmpty ? nil : state.cuts.removeFirst()
                }
                return ClientBootstrap(group: inbound.eventLoop)
                    .connect(host: "127.0.0.1", port: targetPort)
                    .flatMap { outbound in
                        let toServer = Forwarder(peer: outbound, limit: nil, state: state)
                        let toClient = Forwarder(peer: inbound, limit: limit, state: state)
                        return inbound.pipeline.addHandler(toServer).flatMap { outbound.pipeline.addHandler(toClient) }
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// Cut the next connections after these numbers of bytes from the server.
    public func scheduleCuts(_ cuts: [Int]) {
        self.state.withLockedValue { $0.cuts += cuts }
    }

    public func close() async throws {
        try await self.server.close()
    }

    private final class Forwarder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let peer: Channel
        var remaining: Int?
        let state: NIOLockedValueBox<State>

        init(peer: Channel, limit: Int?, state: NIOLockedValueBox<State>) {
            self.peer = peer
            self.remaining = limit
            self.state = state
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = self.unwrapInboundIn(data)
            if let remaining = self.remaining {
                if bytes.readableBytes >= remaining {
                    // The link breaks here: deliver what fits, then drop both sides.
                    let head = bytes.readSlice(length: remaining)!
                    self.state.withLockedValue { $0.cutsDone += 1 }
                    self.peer.writeAndFlush(head).whenComplete { _ in self.peer.close(promise: nil) }
                    context.close(promise: nil)
                    self.remaining = 0
                    return
                }
                self.remaining = remaining - bytes.readableBytes
            }
            self.state.withLockedValue { $0.bytesForwarded += bytes.readableBytes }
            self.peer.writeAndFlush(bytes, promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.peer.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            context.close(promise: nil)
        }
    }
}
