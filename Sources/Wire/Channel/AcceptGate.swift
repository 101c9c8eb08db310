import NIOCore

/// On a listener's server channel: accepts only while the listener's
/// `UnauthenticatedConnections` has a free place, and gives each accepted connection
/// its place before anything else sees it. Connections past the cap stay in the
/// kernel's accept queue (the listen backlog), costing the process nothing; use it
/// with `maxMessagesPerRead` 1 so no read accepts past the cap.
public final class AcceptGate: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = any Channel
    public typealias InboundOut = any Channel
    public typealias OutboundIn = Never

    private let connections: UnauthenticatedConnections

    public init(connections: UnauthenticatedConnections) {
        self.connections = connections
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let connection = self.unwrapInboundIn(data)
        guard self.connections.take(connection) else {
            connection.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    public func read(context: ChannelHandlerContext) {
        guard self.connections.mayAccept(context.channel) else { return }
        context.read()
    }
}

@available(*, unavailable)
extension AcceptGate: Sendable {}
