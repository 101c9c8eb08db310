import NIOCore
import Platform

/// The last handler of a protocol-port connection: passes each event to its
/// `AgentSession` and does what the session asks of the channel (pause reading,
/// close). Thin on purpose: the session decides, this only connects it to the pipeline.
final class AgentSessionHandler: ChannelInboundHandler {
    typealias InboundIn = TransferEvent

    private let session: AgentSession
    private var failed = false

    init(session: AgentSession) {
        self.session = session
    }

    func channelActive(context: ChannelHandlerContext) {
        self.session.server.open.opened(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if self.session.received(self.unwrapInboundIn(data)) {
            // On the loop already: takes effect before the next read.
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.session.closed()
        context.fireChannelInactive()
    }

    /// A failure of the connection (TLS, transport) ends it; the session learns of
    /// the close from `channelInactive`.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !self.failed {
            self.failed = true
            self.session.failed(error)
        }
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension AgentSessionHandler: Sendable {}
