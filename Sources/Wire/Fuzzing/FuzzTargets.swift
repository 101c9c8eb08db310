import NIOCore

/// The entry points the libFuzzer package (Fuzz/) and the regression tests share,
/// so a crash input found by the fuzzer replays through exactly the same code.
public enum FuzzTargets {
    /// One fuzz input: the first byte picks the target (0–127 session, 128–255 blocks).
    public static func run(_ bytes: UnsafeRawBufferPointer) {
        guard let selector = bytes.first else { return }
        let input = ByteBuffer(bytes: bytes.dropFirst())
        if selector < 128 {
            self.session(input)
        } else {
            self.blocks(input)
        }
    }

    /// Feeds bytes, as a peer would send them, to a controller-side session: frame
    /// parsing, message decoding and every state-machine rule. Any outcome but a
    /// crash, a hang or unbounded buffering is acceptable.
    public static func session(_ input: ByteBuffer) {
        var machine = SessionStateMachine(role: .server, configuration: SessionConfiguration(identity: "fuzz", software: "fuzz"))
        _ = machine.start(now: .uptimeNanoseconds(0))
        // Open the session with a valid HELLO so that the fuzzer reaches the established state too.
        let hello = Frame(streamID: 0, payload: .message(.hello(Hello(
            versions: [1], agentID: "fuzz", software: "fuzz", features: ["zlib"], maxFrameSize: 1 << 20,
            streamWindow: 1 << 16, connectionWindow: 1 << 16, maxStreams: 4
        ))))
        if input.readableBytes % 2 == 0 { _ = machine.received(hello, now: .uptimeNanoseconds(1)) }
        var parser = FrameParser(maxFrameSize: machine.inboundMaxFrameSize)
        var remaining = input
        var now: Int64 = 2
        // Deliver in small irregular pieces, as TCP would.
        while remaining.readableBytes > 0 {
            var piece = remaining.readSlice(length: min(remaining.readableBytes, 1 + Int(now % 97)))!
            parser.append(bytes: &piece)
            do {
                while let frame = try parser.nextFrame() {
                    switch machine.received(frame, now: .uptimeNanoseconds(UInt64(now))) {
                    case .data(let stream, let bytes, _):
                        _ = machine.consumed(bytes.readableBytes, on: stream)
                    case .closeConnection:
                        return
                    default:
                        break
                    }
                    parser.maxFrameSize = machine.inboundMaxFrameSize
                    now += 1_000_000
                }
            } catch {
                return
            }
            precondition(parser.bufferedBytes <= WireLimits.frameHeaderSize + WireLimits.hardMaxFrameSize + 97, "parser buffered \(parser.bufferedBytes) bytes")
            _ = machine.tick(now: .uptimeNanoseconds(UInt64(now)))
        }
    }

    /// Feeds bytes to a transfer stream's block parser and decodes every block. An odd
    /// first byte makes it a resumed stream (PROTOCOL.md §7.5) that may start with a
    /// continuation of block 0, raw or zlib, with a prefix taken from the input.
    public static func blocks(_ input: ByteBuffer) {
        var remaining = input
        var parser = BlockParser(blockSize: 1 << 16)
        var expectedOffset: [UInt32: Int] = [:]
        if let mode = remaining.readInteger(as: UInt8.self), mode & 1 == 1, let length = remaining.readInteger(as: UInt16.self) {
            let encodedLength = max(2, Int(length))
            let offset = 1 + Int(mode >> 1) % (encodedLength - 1)
            let encoding: EncodedBlock.Encoding = mode & 2 == 0 ? .raw : .zlib
            let prefix = encoding == .zlib ? (remaining.readSlice(length: min(offset, remaining.readableBytes)) ?? ByteBuffer()) : ByteBuffer()
            guard encoding == .raw || prefix.readableBytes == offset else { return }
            parser = BlockParser(blockSize: 1 << 16, resuming: 0, at: BlockResume(offset: offset, encoding: encoding, encodedLength: encodedLength), prefix: prefix)
            // A raw continuation's first piece starts where the held bytes end.
            if encoding == .raw { expectedOffset[0] = offset }
        }
        do {
            while remaining.readableBytes > 0 {
                parser.append(remaining.readSlice(length: min(remaining.readableBytes, 1 + remaining.readableBytes % 61))!)
                while let piece = try parser.next() {
                    precondition(piece.offset + piece.bytes.readableBytes <= piece.rawLength)
                    precondition(expectedOffset[piece.index, default: 0] == piece.offset || piece.offset == 0)
                    expectedOffset[piece.index] = piece.completesBlock ? 0 : piece.offset + piece.bytes.readableBytes
                }
            }
        } catch {
            return
        }
    }
}
