import Foundation
import NIOCore
import Wire
import NIOPosix
import NIOSSL
import NIOTLS

/// The baseline: swift-nio-ssl alone, the client writing `size` bytes in frame-sized
/// writes as fast as the channel accepts them, the server counting them.
struct RawTLSRun {
    let tls: BenchTLS
    let group: MultiThreadedEventLoopGroup
    /// Each side on its own thread, as two processes would be.
    var serverLoop: EventLoop { Array(self.group.makeIterator())[0] }
    var clientLoop: EventLoop { Array(self.group.makeIterator())[1] }
    let blocks: [ByteBuffer]
    let size: Int

    /// Seconds from TLS completion to the last byte counted.
    func run() async throws -> Double {
        let done = self.group.next().makePromise(of: NIODeadline.self)
        let started = self.group.next().makePromise(of: NIODeadline.self)
        let size = self.size
        let server = try await ServerBootstrap(group: self.serverLoop)
            .childChannelInitializer { [tls] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.server))
                    try channel.pipeline.syncOperations.addHandler(CountingSink(expected: size, done: done))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let blocks = self.blocks
        let client = try await ClientBootstrap(group: self.clientLoop)
            .channelInitializer { [tls] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls.client, serverHostname: "localhost"))
                    try channel.pipeline.syncOperations.addHandler(ChunkWriter(blocks: blocks, total: size, started: started))
                }
            }
            .connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
        let end = try await done.futureResult.get()
        let start = try await started.futureResult.get()
        try await client.close()
        try await server.close()
        return Double((end - start).nanoseconds) / 1e9
    }
}

final class CountingSink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let expected: Int
    let done: EventLoopPromise<NIODeadline>
    var received = 0

    init(expected: Int, done: EventLoopPromise<NIODeadline>) {
        self.expected = expected
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.received += self.unwrapInboundIn(data).readableBytes
        if self.received >= self.expected { self.done.succeed(.now()) }
    }
}

final class ChunkWriter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let blocks: [ByteBuffer]
    let total: Int
    let started: EventLoopPromise<NIODeadline>
    var sent = 0

    init(blocks: [ByteBuffer], total: Int, started: EventLoopPromise<NIODeadline>) {
        self.blocks = blocks
        self.total = total
        self.started = started
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            self.started.succeed(.now())
            self.pump(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Write size: Tern's default frame size unless TERN_BENCH_FRAME says otherwise (read once).
    static let chunk = ProcessInfo.processInfo.environment["TERN_BENCH_FRAME"].flatMap(Int.init) ?? WireLimits.defaultMaxFrameSize

    /// One write of Tern's frame size in flight at a time, the next issued when the last completes:
    /// the fastest of the strategies tried here (see BENCHMARKS.md), and the same
    /// write pattern as Tern's bulk writer, so the ratio isolates protocol cost.
    private func pump(context: ChannelHandlerContext) {
        guard self.sent < self.total else { return }
        let chunk = Self.chunk
        let block = self.blocks[(self.sent >> 20) % self.blocks.count]
        let offset = self.sent & ((1 << 20) - 1)
        let length = min(chunk, self.total - self.sent, (1 << 20) - offset)
        self.sent += length
        let promise = context.eventLoop.makePromise(of: Void.self)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        promise.futureResult.whenSuccess {
            let (writer, context) = loopBound.value
            context.eventLoop.execute { writer.pump(context: context) }
        }
        context.writeAndFlush(self.wrapOutboundOut(block.getSlice(at: block.readerIndex + offset, length: length)!), promise: promise)
    }
}
