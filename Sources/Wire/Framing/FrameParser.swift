import NIOCore

/// Cuts frames out of a byte stream.
///
/// The length is checked against `maxFrameSize` as soon as the header is visible,
/// before the payload is buffered (PROTOCOL.md §3.1), so a peer cannot make the
/// receiver hold more than one frame of its choosing.
///
/// DATA payloads are not held back until the whole frame has arrived: each piece is
/// returned as a DATA frame of its own as soon as it is read (END_STREAM on the
/// last piece only). The bytes, their order and their flow-control cost are the
/// same; the receiver just never copies bulk data to reassemble a frame.
public struct FrameParser {
    private var buffer: ByteBuffer?
    /// The DATA frame whose payload is being passed through.
    private var data: (streamID: StreamID, flags: Frame.Flags, remaining: Int)?

    /// The largest payload accepted; starts at the handshake limit and is raised
    /// to the negotiated value once the handshake completes.
    public var maxFrameSize: Int

    public init(maxFrameSize: Int = WireLimits.handshakeMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    /// Adds bytes read from the transport.
    public mutating func append(bytes: inout ByteBuffer) {
        if self.buffer == nil {
            self.buffer = bytes
        } else {
            self.buffer!.writeBuffer(&bytes)
        }
    }

    /// Bytes held that are not yet a whole frame.
    public var bufferedBytes: Int { self.buffer?.readableBytes ?? 0 }

    /// The next frame (or piece of a DATA frame), or `nil` when more bytes are needed.
    /// A thrown `WireError` is a connection error: the stream of bytes cannot be resynchronised.
    public mutating func nextFrame() throws -> Frame? {
        if let data = self.data { return self.nextDataPiece(data) }
        guard let readable = self.buffer?.readableBytes, readable >= WireLimits.frameHeaderSize else { return nil }
        let start = self.buffer!.readerIndex
        let length = Int(self.buffer!.getInteger(at: start, as: UInt16.self)!) << 8
            | Int(self.buffer!.getInteger(at: start + 2, as: UInt8.self)!)
        // PROTOCOL.md §3.1: a length above max_frame_size is a connection error, FRAME_SIZE_ERROR.
        guard length <= self.maxFrameSize else {
            throw WireError(.frameSizeError, "frame of \(length) bytes exceeds the limit of \(self.maxFrameSize)")
        }
        let typeByte = self.buffer!.getInteger(at: start + 3, as: UInt8.self)!
        let flags = Frame.Flags(rawValue: self.buffer!.getInteger(at: start + 4, as: UInt8.self)!)
        // PROTOCOL.md §3.1: the reserved high bit of the stream id is ignored on receipt.
        let streamID = self.buffer!.getInteger(at: start + 5, as: UInt32.self)! & 0x7FFF_FFFF

        if typeByte == Frame.Kind.data.rawValue {
            // PROTOCOL.md §3.3.1: DATA on stream 0 is a connection error.
            guard streamID != 0 else { throw WireError(.protocolError, "DATA on stream 0") }
            self.buffer!.moveReaderIndex(forwardBy: WireLimits.frameHeaderSize)
            let data = (streamID: streamID, flags: flags.intersection(.endStream), remaining: length)
            self.data = data
            return self.nextDataPiece(data)
        }
        guard readable >= WireLimits.frameHeaderSize + length else {
            // Grow once to the whole frame rather than doubling read by read.
            self.buffer!.reserveCapacity(minimumWritableBytes: WireLimits.frameHeaderSize + length - readable)
            return nil
        }
        self.buffer!.moveReaderIndex(forwardBy: WireLimits.frameHeaderSize)
        let payload = self.buffer!.readSlice(length: length)!
        if self.buffer!.readableBytes == 0 { self.buffer = nil }

        guard let kind = Frame.Kind(rawValue: typeByte) else {
            // PROTOCOL.md §3.3: unknown frame types are a connection error.
            throw WireError(.unknownFrameType, "frame type 0x\(String(typeByte, radix: 16))")
        }
        return try Frame(kind: kind, flags: flags, streamID: streamID, payload: payload)
    }

    private mutating func nextDataPiece(_ data: (streamID: StreamID, flags: Frame.Flags, remaining: Int)) -> Frame? {
        let available = min(self.buffer?.readableBytes ?? 0, data.remaining)
        guard available > 0 || data.remaining == 0 else { return nil }
        let piece = available > 0 ? self.buffer!.readSlice(length: available)! : ByteBuffer()
        if self.buffer?.readableBytes == 0 { self.buffer = nil }
        let remaining = data.remaining - available
        if remaining == 0 {
            self.data = nil
            return Frame(streamID: data.streamID, payload: .data(piece), flags: data.flags)
        }
        self.data = (data.streamID, data.flags, remaining)
        return Frame(streamID: data.streamID, payload: .data(piece))
    }
}

extension Frame {
    /// Interprets a payload whose header has been read (PROTOCOL.md §3.3).
    init(kind: Kind, flags: Flags, streamID: StreamID, payload: ByteBuffer) throws {
        var payload = payload
        switch kind {
        case .data:
            guard streamID != 0 else { throw WireError(.protocolError, "DATA on stream 0") }
            self.init(streamID: streamID, payload: .data(payload), flags: flags.intersection(.endStream))
        case .message:
            let message = try Message(from: payload)
            self.init(streamID: streamID, payload: .message(message), flags: flags.intersection(.endStream))
        case .windowUpdate:
            guard payload.readableBytes == 4 else { throw WireError(.frameSizeError, "WINDOW_UPDATE of \(payload.readableBytes) bytes") }
            let increment = payload.readInteger(as: UInt32.self)! & 0x7FFF_FFFF
            guard increment > 0 else { throw WireError(.protocolError, "WINDOW_UPDATE with increment 0") }
            self.init(streamID: streamID, payload: .windowUpdate(increment: increment))
        case .ping:
            guard streamID == 0 else { throw WireError(.protocolError, "PING on stream \(streamID)") }
            guard payload.readableBytes == 8 else { throw WireError(.frameSizeError, "PING of \(payload.readableBytes) bytes") }
            self.init(streamID: 0, payload: .ping(payload.readInteger(as: UInt64.self)!), flags: flags.intersection(.ack))
        case .goAway:
            guard streamID == 0 else { throw WireError(.protocolError, "GOAWAY on stream \(streamID)") }
            guard payload.readableBytes >= 8, payload.readableBytes <= 8 + WireLimits.maxReasonBytes else {
                throw WireError(.frameSizeError, "GOAWAY of \(payload.readableBytes) bytes")
            }
            let last = payload.readInteger(as: UInt32.self)! & 0x7FFF_FFFF
            let code = WireErrorCode(rawValue: payload.readInteger(as: UInt32.self)!)
            guard let reason = payload.withUnsafeReadableBytes({ String(validating: $0, as: UTF8.self) }) else {
                throw WireError.malformed("GOAWAY reason is not valid UTF-8")
            }
            self.init(streamID: 0, payload: .goAway(GoAway(lastStreamID: last, code: code, reason: reason)))
        case .reset:
            guard streamID != 0 else { throw WireError(.protocolError, "RESET on stream 0") }
            guard payload.readableBytes == 4 else { throw WireError(.frameSizeError, "RESET of \(payload.readableBytes) bytes") }
            self.init(streamID: streamID, payload: .reset(WireErrorCode(rawValue: payload.readInteger(as: UInt32.self)!)))
        }
    }
}
