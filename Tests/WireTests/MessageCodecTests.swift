import NIOCore
import Testing
@testable import Wire

/// Every message round-trips through frames, and every frame decodes the same fed
/// one byte at a time as all at once.
@Suite struct MessageCodecTests {
    static let digest = ContentDigest(of: Array("tern".utf8))

    static let messages: [Message] = [
        .hello(Hello(versions: [1, 2], agentID: "edge-π", software: "x", features: ["zlib", "future"], maxFrameSize: 1 << 20, streamWindow: 1, connectionWindow: 2, maxStreams: 3)),
        .welcome(Welcome(version: 1, controllerID: "c", software: "s", features: [], maxFrameSize: 1 << 14, streamWindow: 9, connectionWindow: 8, heartbeatIntervalMillis: 1, idleTimeoutMillis: 2, maxStreams: 0)),
        .heartbeat(Heartbeat(sequence: UInt64.max, sentAtMillis: 1)),
        .heartbeat(Heartbeat(sequence: 1, sentAtMillis: 2, health: HealthReport())),
        .healthReport(HealthReport(full: true, cpuPermille: 0, memoryTotalBytes: 0, memoryAvailableBytes: 0, load1Milli: 0, uptimeSeconds: 0, disks: [])),
        .healthReport(HealthReport(disks: [DiskUsage(mount: "/var/lib", totalBytes: 1, usedBytes: 0), DiskUsage(mount: "/", totalBytes: 2, usedBytes: 2)])),
        .alarmRaise(AlarmRaise(alarmID: "a", entity: "e", severity: .warning, reason: "r", probableCause: "p", repairAction: "x", raisedAtMillis: 5, serviceAffecting: true)),
        .alarmClear(AlarmClear(alarmID: "a", entity: "e", clearedAtMillis: 0)),
        .firmwareInventory(FirmwareInventory(components: [])),
        .configOffer(ConfigOffer(generation: 0, bundle: nil, size: 0)),
        .configResult(ConfigResult(generation: 1, status: .drifted, applied: digest, detail: "changed locally")),
        .transferOffer(TransferOffer(digest: digest, size: UInt64(1) << 40, blockSize: 1 << 20, kind: "firmware", name: "bios.cap")),
        .transferEnd(TransferEnd(digest: digest, blocksSent: 0)),
        .transferAbort(TransferAbort(digest: nil, code: WireErrorCode(rawValue: 0xFFFF_FFFF), reason: "")),
        .command(Command(commandID: 1, action: "reboot", arguments: [])),
        .commandResult(CommandResult(commandID: 1, status: .rejected, exitCode: Int64.min, output: "")),
        .enrolRequest(EnrolRequest(token: "t", csr: [UInt8](repeating: 7, count: 1000))),
        .enrolResponse(EnrolResponse(certificate: [1], caCertificate: [2], subcloud: "s", notAfterMillis: 3, wirePort: 9)),
        .renewRequest(RenewRequest(csr: [])),
        .renewResponse(RenewResponse(certificate: [9], notAfterMillis: 0)),
        .unknown(type: 999, payload: ByteBuffer(bytes: [0x08, 0x01])),
    ]

    @Test("round-trips through a frame", arguments: Self.messages.indices)
    func roundTrip(index: Int) throws {
        let frame = Frame(streamID: 0, payload: .message(Self.messages[index]))
        let bytes = frame.encoded()
        #expect(try Self.parseAllAtOnce(bytes) == [frame])
        #expect(try Self.parseByteByByte(bytes) == [frame])
    }

    @Test("a stream of many frames parses the same in any chunking")
    func chunking() throws {
        var stream = ByteBuffer()
        var frames: [Frame] = Self.messages.map { Frame(streamID: 0, payload: .message($0)) }
        frames.append(Frame(streamID: 3, payload: .data(ByteBuffer(repeating: 0xAB, count: 5000)), flags: .endStream))
        frames.append(Frame(streamID: 0, payload: .ping(7), flags: .ack))
        for frame in frames { frame.write(to: &stream) }
        #expect(try Self.parseAllAtOnce(stream) == frames)
        #expect(try Self.parseByteByByte(stream) == frames)
        for chunk in [2, 7, 64, 1000] {
            #expect(try Self.parse(stream, chunk: chunk) == frames)
        }
    }

    @Test("DATA payload is passed on as it arrives, with END_STREAM on the last piece only")
    func dataPieces() throws {
        let frame = Frame(streamID: 3, payload: .data(ByteBuffer(repeating: 7, count: 100)), flags: .endStream)
        var bytes = frame.encoded()
        var parser = FrameParser(maxFrameSize: WireLimits.hardMaxFrameSize)
        var first = bytes.readSlice(length: WireLimits.frameHeaderSize + 40)!
        parser.append(bytes: &first)
        let piece = try #require(try parser.nextFrame())
        #expect(piece == Frame(streamID: 3, payload: .data(ByteBuffer(repeating: 7, count: 40))))
        #expect(try parser.nextFrame() == nil)
        #expect(parser.bufferedBytes == 0, "nothing is held back for reassembly")
        parser.append(bytes: &bytes)
        #expect(try parser.nextFrame() == Frame(streamID: 3, payload: .data(ByteBuffer(repeating: 7, count: 60)), flags: .endStream))
        // An empty DATA frame that only ends the stream is passed on too.
        var end = Frame(streamID: 3, payload: .data(ByteBuffer()), flags: .endStream).encoded()
        parser.append(bytes: &end)
        #expect(try parser.nextFrame() == Frame(streamID: 3, payload: .data(ByteBuffer()), flags: .endStream))
    }

    @Test("unknown fields are skipped, whatever their wire type")
    func unknownFieldsSkipped() throws {
        // HEARTBEAT with field 1 = 5, then unknown fields 15 (varint), 16 (length-delimited),
        // 17 (fixed64), 18 (fixed32), then field 2 = 6.
        var payload = ByteBuffer()
        payload.writeVarint(3)
        payload.writeBytes([0x08, 0x05])
        payload.writeBytes([0x78, 0x96, 0x01])
        payload.writeBytes([0x82, 0x01, 0x03, 0x61, 0x62, 0x63])
        payload.writeBytes([0x89, 0x01, 1, 2, 3, 4, 5, 6, 7, 8])
        payload.writeBytes([0x95, 0x01, 1, 2, 3, 4])
        payload.writeBytes([0x10, 0x06])
        let message = try Message(from: payload)
        #expect(message == .heartbeat(Heartbeat(sequence: 5, sentAtMillis: 6)))
    }

    @Test("fields in any order decode; the last of a repeated scalar wins")
    func fieldOrder() throws {
        var payload = ByteBuffer()
        payload.writeVarint(3)
        payload.writeBytes([0x10, 0x06, 0x08, 0x05, 0x08, 0x07])
        #expect(try Message(from: payload) == .heartbeat(Heartbeat(sequence: 7, sentAtMillis: 6)))
    }

    @Test("an unknown enum value maps to its documented fallback")
    func enumFallback() throws {
        var payload = ByteBuffer()
        payload.writeVarint(5)
        payload.writeBytes([0x18, 0x09])  // severity 9
        guard case .alarmRaise(let alarm) = try Message(from: payload) else { Issue.record("not an alarm"); return }
        #expect(alarm.severity == .major)
    }

    static func parseAllAtOnce(_ bytes: ByteBuffer) throws -> [Frame] {
        try self.parse(bytes, chunk: bytes.readableBytes)
    }

    static func parseByteByByte(_ bytes: ByteBuffer) throws -> [Frame] {
        try self.parse(bytes, chunk: 1)
    }

    static func parse(_ bytes: ByteBuffer, chunk: Int) throws -> [Frame] {
        var parser = FrameParser(maxFrameSize: WireLimits.hardMaxFrameSize)
        var input = bytes
        var frames: [Frame] = []
        while input.readableBytes > 0 {
            var piece = input.readSlice(length: min(chunk, input.readableBytes))!
            parser.append(bytes: &piece)
            while let frame = try parser.nextFrame() { frames.append(frame) }
        }
        #expect(parser.bufferedBytes == 0)
        return coalesced(frames)
    }

    /// DATA arrives in pieces as bytes do (FrameParser); join consecutive pieces of
    /// one frame (no END_STREAM in between) so results compare across chunkings.
    static func coalesced(_ frames: [Frame]) -> [Frame] {
        var result: [Frame] = []
        var open: Frame?
        for frame in frames {
            guard case .data(var bytes) = frame.payload else {
                if let pending = open { result.append(pending); open = nil }
                result.append(frame)
                continue
            }
            if var pending = open, pending.streamID == frame.streamID, case .data(var joined) = pending.payload {
                joined.writeBuffer(&bytes)
                pending.payload = .data(joined)
                pending.flags = frame.flags
                open = pending
            } else {
                if let pending = open { result.append(pending) }
                open = frame
            }
        }
        if let pending = open { result.append(pending) }
        return result
    }
}
