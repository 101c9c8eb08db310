import NIOCore

/// On a listener's server channel: accepts only while the listener's
/// `UnauthenticatedConnections` has a free place, and gives each accepted connection
/// its place before anything else sees it. A read may accept a batch; connections of
/// the batch past the cap are held here, not yet set up (no TLS, no deadline, only
/// their descriptor), and passed on in order as places free, before the listener
/// reads again. Past that, connections wait in the kernel's accept queue (the listen
/// backlog), costing the process nothing. Nothing is refused for being many.
public final class AcceptGate: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = any Channel
    public typealias InboundOut = any Channel
    public typealias OutboundIn = Never

    private let connections: UnauthenticatedConnections
    /// Accepted past the cap, waiting for a place (at most one read's batch).
    private var held = CircularBuffer<any Channel>()

    public init(connections: UnauthenticatedConnections) {
        self.connections = connections
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let connection = self.unwrapInboundIn(data)
        guard self.held.isEmpty, self.connections.take(connection) else {
            self.held.append(connection)
            return
        }
        context.fireChannelRead(data)
    }

    public func read(context: ChannelHandlerContext) {
        // Held connections go first, in order, as far as places allow.
        var passed = false
        while let next = self.held.first, self.connections.take(next) {
            self.held.removeFirst()
            context.fireChannelRead(self.wrapInboundOut(next))
            passed = true
        }
        if passed { context.fireChannelReadComplete() }
        // Read again only with none held and a place free; else `UnauthenticatedConnections`
        // reads the listener again when one frees.
        guard self.connections.mayAccept(context.channel), self.held.isEmpty else { return }
        context.read()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        for connection in self.held { connection.close(promise: nil) }
        self.held.removeAll()
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension AcceptGate: Sendable {}
