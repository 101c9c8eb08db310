import NIOCore
import TernTestSupport
import Testing
@testable import Wire

/// Bad bytes give their specific error code, never a crash or a hang.
@Suite struct MalformedInputTests {
    /// Parses `bytes` as one connection's input; returns the error code or nil.
    static func parseError(_ bytes: [UInt8], maxFrameSize: Int = WireLimits.hardMaxFrameSize) -> WireErrorCode? {
        var parser = FrameParser(maxFrameSize: maxFrameSize)
        var input = ByteBuffer(bytes: bytes)
        parser.append(bytes: &input)
        do {
            while try parser.nextFrame() != nil {}
            return nil
        } catch let error as WireError {
            return error.code
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    /// A MESSAGE frame on stream 0 with `payload`.
    static func messageFrame(_ payload: [UInt8]) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), 0x01, 0x00, 0, 0, 0, 0] + payload
    }

    @Test("a truncated frame waits for more bytes and holds only what it got")
    func truncatedFrame() throws {
        let full = Frame(streamID: 0, payload: .ping(1)).encoded()
        var parser = FrameParser()
        var partial = full.getSlice(at: 0, length: full.readableBytes - 1)!
        parser.append(bytes: &partial)
        #expect(try parser.nextFrame() == nil)
        #expect(parser.bufferedBytes == full.readableBytes - 1)
    }

    @Test("an oversized length is FRAME_SIZE_ERROR from the header alone")
    func oversizedLength() {
        // Only the 9-byte header of a 16 MiB frame: rejected before any payload arrives.
        #expect(Self.parseError([0xFF, 0xFF, 0xFF, 0x00, 0x00, 0, 0, 0, 1], maxFrameSize: 65_536) == .frameSizeError)
        // Just over the handshake limit.
        #expect(Self.parseError([0x00, 0x40, 0x01, 0x01, 0x00, 0, 0, 0, 0], maxFrameSize: WireLimits.handshakeMaxFrameSize) == .frameSizeError)
    }

    @Test("an unknown frame type is UNKNOWN_FRAME_TYPE")
    func unknownFrameType() {
        #expect(Self.parseError([0x00, 0x00, 0x00, 0x09, 0x00, 0, 0, 0, 0]) == .unknownFrameType)
    }

    @Test("fixed-size frames of the wrong size are FRAME_SIZE_ERROR")
    func fixedSizes() {
        #expect(Self.parseError([0x00, 0x00, 0x03, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 1]) == .frameSizeError)  // WINDOW_UPDATE of 3
        #expect(Self.parseError([0x00, 0x00, 0x04, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 1]) == .frameSizeError)  // PING of 4
        #expect(Self.parseError([0x00, 0x00, 0x02, 0x05, 0x00, 0, 0, 0, 1, 0, 0]) == .frameSizeError)  // RESET of 2
        #expect(Self.parseError([0x00, 0x00, 0x04, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]) == .frameSizeError)  // GOAWAY of 4
    }

    @Test("frames on the wrong stream are PROTOCOL_ERROR")
    func wrongStreams() {
        #expect(Self.parseError([0x00, 0x00, 0x01, 0x00, 0x00, 0, 0, 0, 0, 0xAA]) == .protocolError)  // DATA on 0
        #expect(Self.parseError([0x00, 0x00, 0x08, 0x03, 0x00, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 8)) == .protocolError)  // PING on 1
        #expect(Self.parseError([0x00, 0x00, 0x04, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]) == .protocolError)  // increment 0
    }

    @Test("an overlong varint in a message is MALFORMED_MESSAGE")
    func overlongVarint() {
        // HEARTBEAT, field 1 = 5 encoded as 85 80 00 (non-minimal).
        #expect(Self.parseError(Self.messageFrame([0x03, 0x08, 0x85, 0x80, 0x00])) == .malformedMessage)
        // An 11-byte varint.
        #expect(Self.parseError(Self.messageFrame([0x03, 0x08] + [UInt8](repeating: 0xFF, count: 10) + [0x01])) == .malformedMessage)
    }

    @Test("invalid UTF-8 in a string field is MALFORMED_MESSAGE")
    func invalidUTF8() {
        // HELLO, field 2 agent_id = C3 28 (an invalid two-byte sequence).
        #expect(Self.parseError(Self.messageFrame([0x01, 0x12, 0x02, 0xC3, 0x28])) == .malformedMessage)
        // GOAWAY with a reason of FF.
        #expect(Self.parseError([0x00, 0x00, 0x09, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF]) == .malformedMessage)
    }

    @Test("truncated fields and bad keys are MALFORMED_MESSAGE")
    func truncatedFields() {
        #expect(Self.parseError(Self.messageFrame([0x01, 0x12, 0x09, 0x61])) == .malformedMessage)  // length 9, 1 byte
        #expect(Self.parseError(Self.messageFrame([0x03, 0x08])) == .malformedMessage)  // key without value
        #expect(Self.parseError(Self.messageFrame([0x03, 0x0B, 0x01])) == .malformedMessage)  // wire type 3
        #expect(Self.parseError(Self.messageFrame([0x03, 0x00, 0x01])) == .malformedMessage)  // field number 0
        #expect(Self.parseError(Self.messageFrame([0x03, 0x0A, 0x01, 0x00])) == .malformedMessage)  // sequence as bytes
        #expect(Self.parseError(Self.messageFrame([])) == .malformedMessage)  // no message type
        #expect(Self.parseError(Self.messageFrame([0x05, 0x40, 0x02])) == .malformedMessage)  // bool of 2
        #expect(Self.parseError(Self.messageFrame([0x0A, 0x0A, 0x03, 1, 2, 3])) == .malformedMessage)  // digest of 3 bytes
    }

    @Test("bounds on strings, repetition and nesting are enforced")
    func bounds() {
        let longName = [UInt8](repeating: 0x61, count: 256)
        #expect(Self.parseError(Self.messageFrame([0x01, 0x12, 0x80, 0x02] + longName)) == .malformedMessage)
        var features: [UInt8] = [0x01]
        for _ in 0...WireLimits.maxRepeatedCount { features += [0x22, 0x01, 0x61] }
        #expect(Self.parseError(Self.messageFrame(features)) == .malformedMessage)
    }

    @Test("arbitrary bytes never crash the parser", arguments: 0..<200)
    func noise(seed: Int) {
        var generator = SplitMix(seed: UInt64(seed))
        let count = Int(generator.next() % 300)
        var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        if bytes.count >= 9 { bytes[3] = UInt8(generator.next() % 6) }  // mostly known types, to reach the decoders
        _ = Self.parseError(bytes)
    }
}
