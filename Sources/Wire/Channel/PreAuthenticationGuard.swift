import NIOCore
import NIOTLS

/// First in a listener's pipeline after TLS: nothing unauthenticated holds a socket
/// for long or in numbers (issue 7, item 6). The listener's `AcceptGate` gives each
/// connection its place at accept and stops accepting at the cap (connections past it
/// wait in the kernel's accept queue); this gives the place back when the connection
/// authenticates. It closes a connection whose TLS handshake is not done within
/// `tlsDeadline` of accept, and with `lifetime` the whole connection that long after
/// accept (the enrolment port, where nobody authenticates by
/// certificate).
public final class PreAuthenticationGuard: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    /// When a connection stops counting against the cap.
    public enum Release: Sendable {
        /// At the end of the TLS handshake: the client certificate authenticated it (mutual TLS).
        case tlsHandshake
        /// When it closes: TLS alone authenticates nobody (the enrolment port).
        case close
    }

    private let connections: UnauthenticatedConnections
    private let release: Release
    private let tlsDeadline: TimeAmount
    private let lifetime: TimeAmount?
    private var tlsTimer: Scheduled<Void>?
    private var lifetimeTimer: Scheduled<Void>?

    public init(connections: UnauthenticatedConnections, release: Release, tlsDeadline: TimeAmount, lifetime: TimeAmount? = nil) {
        self.connections = connections
        self.release = release
        self.tlsDeadline = tlsDeadline
        self.lifetime = lifetime
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        self.tlsTimer = context.eventLoop.scheduleTask(in: self.tlsDeadline) { channel.close(promise: nil) }
        self.lifetimeTimer = self.lifetime.map { context.eventLoop.scheduleTask(in: $0) { channel.close(promise: nil) } }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            // A lifetime stays armed.
            self.tlsTimer?.cancel()
            if self.release == .tlsHandshake { self.connections.release(context.channel) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    // The place itself is given back when the connection closes (`UnauthenticatedConnections.take`).
    public func channelInactive(context: ChannelHandlerContext) {
        self.cancelTimers()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.cancelTimers()
    }

    private func cancelTimers() {
        self.tlsTimer?.cancel()
        self.lifetimeTimer?.cancel()
    }
}

@available(*, unavailable)
extension PreAuthenticationGuard: Sendable {}
