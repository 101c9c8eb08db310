import NIOCore
import NIOHTTPTypes

/// Per API connection, after HTTP decoding: a request must arrive in full (head,
/// body, end) within `timeout` of its head, or the connection is closed; and a
/// response finished before its request was read in full (a refusal of a large
/// upload) closes the connection at once, so no socket lingers half-closed with
/// unread bytes (issue 7, item 6). The idle time between requests is Hummingbird's
/// `idleTimeout`.
final class RequestDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    private var requestInProgress = false

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head:
            self.requestInProgress = true
            self.deadline?.cancel()
            let channel = context.channel
            self.deadline = context.eventLoop.scheduleTask(in: self.timeout) { channel.close(promise: nil) }
        case .body:
            break
        case .end:
            self.requestInProgress = false
            self.deadline?.cancel()
            self.deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = self.unwrapOutboundIn(data), self.requestInProgress else {
            context.write(data, promise: promise)
            return
        }
        // The rest of the request will never be read: end the connection, not half of it.
        let channel = context.channel
        context.writeAndFlush(data).whenComplete { result in
            channel.close(promise: nil)
            promise?.completeWith(result)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.deadline?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.deadline?.cancel()
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension RequestDeadline: Sendable {}
