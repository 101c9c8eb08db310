import NIOConcurrencyHelpers
import NIOCore
import NIOTLS

/// How many connections of one listener have not authenticated yet, against a cap.
/// Shared by every connection of the listener, on any event loop.
public final class UnauthenticatedConnections: Sendable {
    public let limit: Int
    private let state = NIOLockedValueBox((open: 0, refused: 0))

    public init(limit: Int) {
        self.limit = limit
    }

    /// Connections holding a place now.
    public var open: Int { self.state.withLockedValue { $0.open } }
    /// Connections closed at accept because the cap was reached.
    public var refused: Int { self.state.withLockedValue { $0.refused } }

    func enter() -> Bool {
        self.state.withLockedValue { state in
            guard state.open < self.limit else {
                state.refused += 1
                return false
            }
            state.open += 1
            return true
        }
    }

    func leave() {
        self.state.withLockedValue { $0.open -= 1 }
    }
}

/// First in a listener's pipeline after TLS: nothing unauthenticated holds a socket
/// for long or in numbers (issue 7, item 6). A connection past the listener's cap is
/// closed at accept, before any TLS work; one whose TLS handshake is not done within
/// `tlsDeadline` of accept is closed; and with `lifetime`, the whole connection is
/// closed that long after accept (the enrolment port, where nobody authenticates by
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
    private var holdsPlace = false
    private var tlsTimer: Scheduled<Void>?
    private var lifetimeTimer: Scheduled<Void>?

    public init(connections: UnauthenticatedConnections, release: Release, tlsDeadline: TimeAmount, lifetime: TimeAmount? = nil) {
        self.connections = connections
        self.release = release
        self.tlsDeadline = tlsDeadline
        self.lifetime = lifetime
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        guard self.connections.enter() else {
            context.close(promise: nil)
            return
        }
        self.holdsPlace = true
        let channel = context.channel
        self.tlsTimer = context.eventLoop.scheduleTask(in: self.tlsDeadline) { channel.close(promise: nil) }
        self.lifetimeTimer = self.lifetime.map { context.eventLoop.scheduleTask(in: $0) { channel.close(promise: nil) } }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            // A lifetime stays armed.
            self.tlsTimer?.cancel()
            if self.release == .tlsHandshake { self.leave() }
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.finish()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.finish()
    }

    private func finish() {
        self.tlsTimer?.cancel()
        self.lifetimeTimer?.cancel()
        self.leave()
    }

    private func leave() {
        guard self.holdsPlace else { return }
        self.holdsPlace = false
        self.connections.leave()
    }
}

@available(*, unavailable)
extension PreAuthenticationGuard: Sendable {}
