import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Wire

/// One Tern transfer of `size` bytes over mutual TLS: the controller side serves
/// pre-encoded blocks (compressed once, as the controller's cache does), the agent
/// side parses and decodes every block and returns flow-control credit.
struct TernRun {
    let tls: BenchTLS
    let group: MultiThreadedEventLoopGroup
    /// Each side on its own thread, as two processes would be.
    var serverLoop: EventLoop { Array(self.group.makeIterator())[0] }
    var clientLoop: EventLoop { Array(self.group.makeIterator())[1] }
    let blocks: [EncodedBlock]
    let size: Int
    let zlib: Bool
    /// PING round trips measured while the stream runs (one PING every `probeInterval`).
    let roundTrips = NIOLockedValueBox<[TimeAmount]>([])
    var probeInterval: TimeAmount = .milliseconds(20)

    func run() async throws -> Double {
        let done = self.group.next().makePromise(of: (NIODeadline, NIODeadline, Int).self)
        let source = CyclingSource(blocks: self.blocks, blockCount: UInt64(self.size >> 20))
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        var session = SessionConfiguration(identity: "bench", software: "tern-bench")
        session.features = self.zlib ? [WireFeature.zlib] : []
        if let size = ProcessInfo.processInfo.environment["TERN_BENCH_FRAME"].flatMap(Int.init) { session.maxFrameSize = size }
        let server = try await ServerBootstrap(group: self.serverLoop)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [tls, session, logger] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.server))
                    try channel.pipeline.syncOperations.addHandler(WireConnectionHandler(role: .server, configuration: session, logger: logger))
                    try channel.pipeline.syncOperations.addHandler(BulkSender(source: source))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        var agentSession = session
        agentSession.identity = "bench-agent"
        let client = try await ClientBootstrap(group: self.clientLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [tls, agentSession, logger, roundTrips, probeInterval] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls.client, serverHostname: "localhost"))
                    try channel.pipeline.syncOperations.addHandler(WireConnectionHandler(role: .client, configuration: agentSession, logger: logger))
                    try channel.pipeline.syncOperations.addHandler(BulkReceiver(done: done, roundTrips: roundTrips, probeInterval: probeInterval))
                }
            }
            .connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
        let (start, end, received) = try await done.futureResult.get()
        precondition(received == self.size, "received \(received) of \(self.size) bytes")
        try await client.close()
        try await server.close()
        return Double((end - start).nanoseconds) / 1e9
    }
}

/// `blockCount` blocks, cycling through a few distinct ones.
struct CyclingSource: TransferSource {
    let blocks: [EncodedBlock]
    let blockCount: UInt64

    func block(at index: UInt64) throws -> EncodedBlock {
        var block = self.blocks[Int(index % UInt64(self.blocks.count))]
        block.index = UInt32(truncatingIfNeeded: index)
        return block
    }
}

/// Controller side: serves every TRANSFER_REQUEST from the source.
final class BulkSender: ChannelInboundHandler {
    typealias InboundIn = WireEvent
    typealias OutboundOut = WireCommand
    let source: CyclingSource

    init(source: CyclingSource) { self.source = source }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .message(let stream, .transferRequest(let request), _) = self.unwrapInboundIn(data) {
            let end = Message.transferEnd(TransferEnd(digest: request.digest, blocksSent: self.source.blockCount))
            context.writeAndFlush(self.wrapOutboundOut(.serve(stream, source: self.source, firstBlock: request.firstBlock, end: end)), promise: nil)
        }
    }
}

/// Agent side: asks for the object, then parses, inflates and counts every block.
final class BulkReceiver: ChannelInboundHandler {
    typealias InboundIn = WireEvent
    typealias OutboundOut = WireCommand
    let done: EventLoopPromise<(NIODeadline, NIODeadline, Int)>
    var parser = BlockParser(blockSize: 1 << 20)
    var start = NIODeadline.now()
    var received = 0
    var unacknowledged: [StreamID: Int] = [:]
    /// PINGs sent while the stream runs: how long a control frame waits behind bulk data.
    let roundTrips: NIOLockedValueBox<[TimeAmount]>
    let probeInterval: TimeAmount
    var probe: RepeatedTask?

    init(done: EventLoopPromise<(NIODeadline, NIODeadline, Int)>, roundTrips: NIOLockedValueBox<[TimeAmount]>, probeInterval: TimeAmount) {
        self.done = done
        self.roundTrips = roundTrips
        self.probeInterval = probeInterval
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        for (stream, count) in self.unacknowledged {
            context.write(self.wrapOutboundOut(.consumed(stream, count: count)), promise: nil)
        }
        self.unacknowledged.removeAll(keepingCapacity: true)
        context.fireChannelReadComplete()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .established:
            self.start = .now()
            let channel = context.channel
            self.probe = context.eventLoop.scheduleRepeatedTask(initialDelay: self.probeInterval, delay: self.probeInterval) { _ in
                channel.writeAndFlush(WireCommand.ping, promise: nil)
            }
            context.writeAndFlush(self.wrapOutboundOut(.openStream(.transferRequest(TransferRequest(digest: nil, firstBlock: 0)))), promise: nil)
        case .data(let stream, let bytes, _):
            self.parser.append(bytes)
            do {
                while let piece = try self.parser.next() {
                    self.received += piece.bytes.readableBytes
                }
            } catch {
                self.done.fail(error)
            }
            // Credit is returned once per read burst, not per piece.
            self.unacknowledged[stream, default: 0] += bytes.readableBytes
        case .message(_, .transferEnd, _):
            self.probe?.cancel()
            self.done.succeed((self.start, .now(), self.received))
        case .roundTrip(let value):
            self.roundTrips.withLockedValue { $0.append(value) }
        case .streamReset(_, let code):
            self.done.fail(WireError(code, "stream reset"))
        default:
            break
        }
    }
}
