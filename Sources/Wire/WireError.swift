/// The error codes that travel in GOAWAY and RESET frames (PROTOCOL.md §8).
///
/// A code is a `UInt32` on the wire. Unknown codes received from a newer peer are
/// kept as they are and treated like `protocolError`.
public struct WireErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Graceful shutdown: no error.
    public static let noError = WireErrorCode(rawValue: 0x00)
    /// A rule of the protocol was broken and no more specific code fits.
    public static let protocolError = WireErrorCode(rawValue: 0x01)
    /// The sender hit a fault of its own.
    public static let internalError = WireErrorCode(rawValue: 0x02)
    /// A frame was larger than the negotiated maximum, or a fixed-size frame had the wrong size.
    public static let frameSizeError = WireErrorCode(rawValue: 0x03)
    /// A frame type the receiver does not know.
    public static let unknownFrameType = WireErrorCode(rawValue: 0x04)
    /// A message could not be decoded: truncated field, overlong varint, invalid UTF-8, bound exceeded.
    public static let malformedMessage = WireErrorCode(rawValue: 0x05)
    /// A frame other than HELLO/WELCOME arrived before the handshake completed.
    public static let handshakeRequired = WireErrorCode(rawValue: 0x06)
    /// The peers share no protocol version.
    public static let versionMismatch = WireErrorCode(rawValue: 0x07)
    /// The handshake did not complete in time.
    public static let handshakeTimeout = WireErrorCode(rawValue: 0x08)
    /// Nothing was received for the idle timeout.
    public static let idleTimeout = WireErrorCode(rawValue: 0x09)
    /// A peer sent more DATA than its window allowed, or overflowed a window.
    public static let flowControlError = WireErrorCode(rawValue: 0x0A)
    /// A frame named a stream that was never opened.
    public static let streamNotOpen = WireErrorCode(rawValue: 0x0B)
    /// A frame arrived on a stream that is closed for that direction.
    public static let streamClosed = WireErrorCode(rawValue: 0x0C)
    /// The stream was refused: too many concurrent streams, or shutting down.
    public static let refusedStream = WireErrorCode(rawValue: 0x0D)
    /// The stream is no longer wanted.
    public static let cancel = WireErrorCode(rawValue: 0x0E)
    /// A transfer block could not be inflated, or inflated past its declared size.
    public static let compressionError = WireErrorCode(rawValue: 0x0F)
    /// A transfer object did not hash to its digest.
    public static let digestMismatch = WireErrorCode(rawValue: 0x10)
    /// The requested object is not known to the sender.
    public static let notFound = WireErrorCode(rawValue: 0x11)
    /// The peer's identity is not enrolled, is revoked, or does not match its certificate.
    public static let unauthorized = WireErrorCode(rawValue: 0x12)
    /// An enrolment token was unknown, expired or already used.
    public static let enrolmentRefused = WireErrorCode(rawValue: 0x13)
    /// A newer connection with the same identity replaced this one (PROTOCOL.md §5.1).
    public static let connectionReplaced = WireErrorCode(rawValue: 0x14)

    /// Whether the code, when it causes a close, ends the connection rather than one stream.
    public var isConnectionError: Bool {
        switch self {
        case .streamClosed, .refusedStream, .cancel, .compressionError, .digestMismatch, .notFound:
            return false
        default:
            return true
        }
    }

    public var description: String {
        switch self {
        case .noError: return "NO_ERROR"
        case .protocolError: return "PROTOCOL_ERROR"
        case .internalError: return "INTERNAL_ERROR"
        case .frameSizeError: return "FRAME_SIZE_ERROR"
        case .unknownFrameType: return "UNKNOWN_FRAME_TYPE"
        case .malformedMessage: return "MALFORMED_MESSAGE"
        case .handshakeRequired: return "HANDSHAKE_REQUIRED"
        case .versionMismatch: return "VERSION_MISMATCH"
        case .handshakeTimeout: return "HANDSHAKE_TIMEOUT"
        case .idleTimeout: return "IDLE_TIMEOUT"
        case .flowControlError: return "FLOW_CONTROL_ERROR"
        case .streamNotOpen: return "STREAM_NOT_OPEN"
        case .streamClosed: return "STREAM_CLOSED"
        case .refusedStream: return "REFUSED_STREAM"
        case .cancel: return "CANCEL"
        case .compressionError: return "COMPRESSION_ERROR"
        case .digestMismatch: return "DIGEST_MISMATCH"
        case .notFound: return "NOT_FOUND"
        case .unauthorized: return "UNAUTHORIZED"
        case .enrolmentRefused: return "ENROLMENT_REFUSED"
        case .connectionReplaced: return "CONNECTION_REPLACED"
        default: return "0x" + String(self.rawValue, radix: 16)
        }
    }
}

/// A protocol failure, in two layers as in swift-nio-http2: what the peer is told
/// (`code`, and in a GOAWAY `reason`) and what stays in this process (`detail`).
///
/// `reason` is built only from protocol facts about the peer's own frames (sizes,
/// stream ids, versions): it helps the other side's implementers and reveals
/// nothing of this one. Anything else — a Swift error's text, a path, an errno — is
/// `detail`, for local logs, and never goes on the wire.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What goes on the wire in GOAWAY or RESET.
    public var code: WireErrorCode
    /// What a GOAWAY tells the peer.
    public var reason: String
    /// For local logs only; never sent.
    public var detail: String?

    /// A protocol error found in the peer's input; `reason` may be sent to it.
    public init(_ code: WireErrorCode, _ reason: String) {
        self.code = code
        self.reason = reason
        self.detail = nil
    }

    /// A fault of this process: the peer learns only the code.
    public static func `internal`(_ underlying: any Error) -> WireError {
        var error = WireError(.internalError, "internal error")
        error.detail = "\(underlying)"
        return error
    }

    public var description: String {
        "\(self.code): \(self.reason)" + (self.detail.map { " (\($0))" } ?? "")
    }

    static func malformed(_ reason: String) -> WireError { WireError(.malformedMessage, reason) }
}
