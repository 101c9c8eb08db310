import Logging
import NIOCore
import NIOEmbedded
import Testing
@testable import Wire

/// An agent and a controller `WireConnectionHandler`, each on an `EmbeddedChannel`,
/// with the bytes carried between them by hand (no TLS, no sockets).
final class EmbeddedPair {
    let agent: EmbeddedChannel
    let controller: EmbeddedChannel
    /// Every frame each side wrote, in order, as the peer parsed it.
    var framesFromController: [Frame] = []
    var framesFromAgent: [Frame] = []
    private var agentParser = FrameParser(maxFrameSize: WireLimits.hardMaxFrameSize)
    private var controllerParser = FrameParser(maxFrameSize: WireLimits.hardMaxFrameSize)

    init(agent: SessionConfiguration = SessionPair.configuration("edge-01"), controller: SessionConfiguration = SessionPair.configuration("central")) throws {
        let logger = Logger(label: "test")
        self.agent = EmbeddedChannel(handler: WireConnectionHandler(role: .client, configuration: agent, overTLS: false, logger: logger))
        self.controller = EmbeddedChannel(handler: WireConnectionHandler(role: .server, configuration: controller, overTLS: false, logger: logger))
        try self.controller.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        try self.agent.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    /// Carries bytes both ways and runs pending loop tasks until nothing moves.
    /// `maxRounds` bounds it, so a test can stop mid-transfer.
    @discardableResult
    func exchange(maxRounds: Int = 10_000) throws -> Int {
        var rounds = 0
        while rounds < maxRounds {
            self.agent.embeddedEventLoop.run()
            self.controller.embeddedEventLoop.run()
            let movedFromAgent = try self.carry(from: self.agent, to: self.controller, parser: &self.agentParser, log: &self.framesFromAgent)
            let movedFromController = try self.carry(from: self.controller, to: self.agent, parser: &self.controllerParser, log: &self.framesFromController)
            rounds += 1
            if !movedFromAgent && !movedFromController { break }
        }
        return rounds
    }

    private func carry(from source: EmbeddedChannel, to destination: EmbeddedChannel, parser: inout FrameParser, log: inout [Frame]) throws -> Bool {
        var moved = false
        while let bytes = try source.readOutbound(as: ByteBuffer.self) {
            moved = true
            var copy = bytes
            parser.append(bytes: &copy)
            while let frame = try parser.nextFrame() { log.append(frame) }
            if destination.isActive { try destination.writeInbound(bytes) }
        }
        return moved
    }

    /// Every event the side has delivered to its application so far.
    static func events(_ channel: EmbeddedChannel) throws -> [WireEvent] {
        var events: [WireEvent] = []
        while let event = try channel.readInbound(as: WireEvent.self) { events.append(event) }
        return events
    }
}

/// A transfer source over blocks held in memory.
struct MemorySource: TransferSource {
    let blocks: [EncodedBlock]
    var blockCount: UInt64 { UInt64(self.blocks.count) }
    func block(at index: UInt64) throws -> EncodedBlock { self.blocks[Int(index)] }

    init(object: ByteBuffer, blockSize: Int, compress: Bool) throws {
        var remaining = object
        var blocks: [EncodedBlock] = []
        while remaining.readableBytes > 0 {
            let raw = remaining.readSlice(length: min(blockSize, remaining.readableBytes))!
            blocks.append(try BlockCodec().encode(raw, index: UInt32(blocks.count), compress: compress))
        }
        self.blocks = blocks
    }
}
