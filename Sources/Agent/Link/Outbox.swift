import NIOCore
import Wire

/// Messages the agent sends on its own (deployment progress, config results):
/// written to the current connection, or kept for the next one while there is none.
/// Stream requests are not kept: the controller repeats its DEPLOY on reconnect and
/// the request is made again from the transfer state then.
actor Outbox {
    private var writer: NIOAsyncChannelOutboundWriter<WireCommand>?
    private(set) var kept: [Message] = []
    /// Oldest kept messages are dropped past this: they describe states the agent reports again anyway.
    let limit = 256

    func attach(_ writer: NIOAsyncChannelOutboundWriter<WireCommand>) async {
        self.writer = writer
        let backlog = self.kept
        self.kept.removeAll()
        for message in backlog { await self.send(message) }
    }

    func detach() { self.writer = nil }

    func send(_ message: Message) async {
        guard let writer = self.writer else { return self.keep(message) }
        do { try await writer.write(.message(message)) } catch {
            self.writer = nil
            self.keep(message)
        }
    }

    /// Opens a transfer stream now, if connected.
    func request(_ request: TransferRequest) async {
        try? await self.writer?.write(.openStream(.transferRequest(request)))
    }

    private func keep(_ message: Message) {
        self.kept.append(message)
        if self.kept.count > self.limit { self.kept.removeFirst(self.kept.count - self.limit) }
    }
}
