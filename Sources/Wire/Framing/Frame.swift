import NIOCore

/// A stream identifier: 31 bits; 0 is the control stream (PROTOCOL.md §3.2).
public typealias StreamID = UInt32

/// One frame of the Tern wire protocol (PROTOCOL.md §3).
public struct Frame: Hashable, Sendable {
    /// The stream the frame belongs to; 0 for connection-level frames.
    public var streamID: StreamID
    /// What the frame carries.
    public var payload: Payload
    /// Only END_STREAM (on DATA and MESSAGE) and ACK (on PING) are defined.
    public var flags: Flags

    public init(streamID: StreamID, payload: Payload, flags: Flags = []) {
        self.streamID = streamID
        self.payload = payload
        self.flags = flags
    }

    /// The frame types of version 1 (PROTOCOL.md §3.3).
    public enum Payload: Hashable, Sendable {
        /// 0x0: bytes of a stream, subject to flow control.
        case data(ByteBuffer)
        /// 0x1: one message.
        case message(Message)
        /// 0x2: credit for DATA, on a stream or (stream 0) the connection.
        case windowUpdate(increment: UInt32)
        /// 0x3: liveness and round-trip time; the ACK flag marks the reply.
        case ping(UInt64)
        /// 0x4: the sender will start no more streams; graceful or not, by code.
        case goAway(GoAway)
        /// 0x5: ends one stream at once.
        case reset(WireErrorCode)
    }

    /// Frame flags (PROTOCOL.md §3.1).
    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// On DATA and MESSAGE: the sender's last frame on this stream.
        public static let endStream = Flags(rawValue: 0x01)
        /// On PING: this is the reply.
        public static let ack = Flags(rawValue: 0x01)
    }

    /// The type byte of each payload.
    public enum Kind: UInt8, Sendable, CaseIterable {
        case data = 0x0
        case message = 0x1
        case windowUpdate = 0x2
        case ping = 0x3
        case goAway = 0x4
        case reset = 0x5
    }

    public var kind: Kind {
        switch self.payload {
        case .data: return .data
        case .message: return .message
        case .windowUpdate: return .windowUpdate
        case .ping: return .ping
        case .goAway: return .goAway
        case .reset: return .reset
        }
    }

    /// The bytes a DATA frame charges against flow-control windows.
    public var flowControlledLength: Int {
        if case .data(let bytes) = self.payload { return bytes.readableBytes }
        return 0
    }
}

/// The body of a GOAWAY frame (PROTOCOL.md §3.3.5).
public struct GoAway: Hashable, Sendable {
    /// The highest stream id, opened by the receiver of this frame, that the sender will still process.
    public var lastStreamID: StreamID
    public var code: WireErrorCode
    /// Human-readable, UTF-8, at most `WireLimits.maxReasonBytes`.
    public var reason: String

    public init(lastStreamID: StreamID, code: WireErrorCode, reason: String) {
        self.lastStreamID = lastStreamID
        self.code = code
        self.reason = reason
    }
}

extension Frame {
    /// Appends a frame header for a payload of `length` bytes that the caller writes
    /// separately: how bulk DATA goes out without copying its payload.
    public static func writeHeader(kind: Kind, flags: Flags, streamID: StreamID, length: Int, to buffer: inout ByteBuffer) {
        precondition(length <= WireLimits.hardMaxFrameSize, "frame payload of \(length) bytes")
        buffer.writeInteger(UInt16(truncatingIfNeeded: length >> 8))
        buffer.writeInteger(UInt8(truncatingIfNeeded: length))
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(flags.rawValue)
        buffer.writeInteger(streamID & 0x7FFF_FFFF)
    }

    /// Appends the frame, header and payload, to `buffer`.
    public func write(to buffer: inout ByteBuffer) {
        let headerIndex = buffer.writerIndex
        buffer.writeInteger(UInt16(0))  // length, patched below
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(self.kind.rawValue)
        buffer.writeInteger(self.flags.rawValue)
        buffer.writeInteger(self.streamID & 0x7FFF_FFFF)
        let payloadStart = buffer.writerIndex

        switch self.payload {
        case .data(let bytes):
            buffer.writeImmutableBuffer(bytes)
        case .message(let message):
            message.write(to: &buffer)
        case .windowUpdate(let increment):
            buffer.writeInteger(increment & 0x7FFF_FFFF)
        case .ping(let opaque):
            buffer.writeInteger(opaque)
        case .goAway(let goAway):
            buffer.writeInteger(goAway.lastStreamID & 0x7FFF_FFFF)
            buffer.writeInteger(goAway.code.rawValue)
            buffer.writeString(goAway.reason.truncated(toUTF8Bytes: WireLimits.maxReasonBytes))
        case .reset(let code):
            buffer.writeInteger(code.rawValue)
        }

        let length = buffer.writerIndex - payloadStart
        precondition(length <= WireLimits.hardMaxFrameSize, "frame payload of \(length) bytes")
        buffer.setInteger(UInt16(truncatingIfNeeded: length >> 8), at: headerIndex)
        buffer.setInteger(UInt8(truncatingIfNeeded: length), at: headerIndex + 2)
    }

    /// The frame as a new buffer.
    public func encoded() -> ByteBuffer {
        var buffer = ByteBuffer()
        self.write(to: &buffer)
        return buffer
    }
}

extension String {
    /// The longest prefix of whole characters that fits in `limit` UTF-8 bytes.
    func truncated(toUTF8Bytes limit: Int) -> String {
        guard self.utf8.count > limit else { return self }
        var result = ""
        var used = 0
        for character in self {
            let size = character.utf8.count
            guard used + size <= limit else { break }
            result.append(character)
            used += size
        }
        return result
    }
}
