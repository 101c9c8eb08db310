/// Every size and count bound of protocol version 1, in one place.
///
/// PROTOCOL.md §9 lists the same numbers; a change here is a change of the spec.
public enum WireLimits {
    /// Bytes in a frame header (PROTOCOL.md §3.1).
    public static let frameHeaderSize = 9

    /// The largest frame payload any peer may ever announce or accept (PROTOCOL.md §3.1).
    public static let hardMaxFrameSize = 1 << 20

    /// The smallest `max_frame_size` a peer may announce.
    public static let minMaxFrameSize = 1 << 14

    /// The payload limit that applies until the handshake has completed (PROTOCOL.md §5.1).
    public static let handshakeMaxFrameSize = 1 << 14

    /// What this implementation announces as its own `max_frame_size` by default: the
    /// protocol's cap, 1 MiB. Per-frame costs (a socket write, a TLS record, the state
    /// machine) were what held bulk goodput back at 64 KiB frames (BENCHMARKS.md). A
    /// control frame then waits behind at most 1 MiB of bulk data: 84 ms at 100 Mbit/s,
    /// 0.84 s at 10 Mbit/s — an agent on a slow link announces less
    /// (`tern-agent run --max-frame-size 65536`).
    public static let defaultMaxFrameSize = 1 << 20

    /// Bytes of one varint: ten carry 64 bits (PROTOCOL.md §4.1).
    public static let maxVarintBytes = 10

    /// Longest UTF-8 string field in bytes, unless a message says less.
    public static let maxStringBytes = 4096

    /// Longest GOAWAY reason in bytes.
    public static let maxReasonBytes = 1024

    /// Most elements of one repeated field in one message.
    public static let maxRepeatedCount = 1024

    /// Deepest nesting of embedded messages.
    public static let maxNestingDepth = 4

    /// The largest flow-control window (PROTOCOL.md §6.2).
    public static let maxWindow: Int = (1 << 31) - 1

    /// Stream window this implementation grants by default.
    public static let defaultStreamWindow = 4 << 20

    /// Connection window this implementation grants by default.
    public static let defaultConnectionWindow = 16 << 20

    /// Concurrent streams a peer accepts by default.
    public static let defaultMaxStreams = 32

    /// Largest raw transfer block (PROTOCOL.md §7.2).
    public static let maxBlockSize = 1 << 20

    /// Bytes in a block header inside a transfer stream (PROTOCOL.md §7.3).
    public static let blockHeaderSize = 13

    /// Largest single certificate or CSR in DER.
    public static let maxCertificateBytes = 16 * 1024
}
