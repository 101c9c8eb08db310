import NIOCore

/// One direction of a relayed connection: what arrives is written to `peer`. With
/// `limit`, the link breaks after that many bytes (what fits is delivered, then both
/// sides close), as a flaky network would — or with `stall`, it stays up and carries
/// nothing more in this direction. Closing either side closes the other.
final class Relay: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let peer: Channel
    private var remaining: Int?
    private let stall: Bool
    private let onCut: @Sendable () -> Void
    private let onForward: @Sendable (Int) -> Void

    init(peer: Channel, limit: Int? = nil, stall: Bool = false, onCut: @escaping @Sendable () -> Void = {}, onForward: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.peer = peer
        self.remaining = limit
        self.stall = stall
        self.onCut = onCut
        self.onForward = onForward
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        if let remaining = self.remaining {
            if self.stall, bytes.readableBytes >= remaining {
                if remaining > 0 { self.peer.writeAndFlush(bytes.readSlice(length: remaining)!, promise: nil) }
                self.remaining = 0
                return
            }
            if bytes.readableBytes >= remaining {
                let head = bytes.readSlice(length: remaining)!
                self.onCut()
                let peer = self.peer
                peer.writeAndFlush(head).whenComplete { _ in peer.close(promise: nil) }
                context.close(promise: nil)
                self.remaining = 0
                return
            }
            self.remaining = remaining - bytes.readableBytes
        }
        self.onForward(bytes.readableBytes)
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
