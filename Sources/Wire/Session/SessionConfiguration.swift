import NIOCore

/// What one side of a connection offers and enforces (PROTOCOL.md §5).
public struct SessionConfiguration: Sendable {
    /// Protocol versions this side speaks.
    public var versions: [UInt32] = [1]
    /// Our identity: the subcloud name (agent) or the controller's name.
    public var identity: String
    /// Software name and version, for the peer's logs.
    public var software: String
    /// Optional features this side supports (PROTOCOL.md §5.3).
    public var features: [String] = [WireFeature.zlib, WireFeature.backup]
    /// Largest frame payload this side accepts.
    public var maxFrameSize: Int = WireLimits.defaultMaxFrameSize
    /// Window granted to each stream for DATA the peer sends.
    public var streamWindow: Int = WireLimits.defaultStreamWindow
    /// Window granted to the connection for DATA the peer sends.
    public var connectionWindow: Int = WireLimits.defaultConnectionWindow
    /// Concurrent streams the peer may open.
    public var maxStreams: Int = WireLimits.defaultMaxStreams
    /// Time allowed from connection start to WELCOME.
    public var handshakeTimeout: TimeAmount = .seconds(10)
    /// Controller only: how often agents send HEARTBEAT.
    public var heartbeatInterval: TimeAmount = .seconds(10)
    /// Controller only: silence after which either side gives up on the connection.
    public var idleTimeout: TimeAmount = .seconds(40)

    public init(identity: String, software: String) {
        self.identity = identity
        self.software = software
    }
}

/// Feature names of version 1 (PROTOCOL.md §5.3).
public enum WireFeature {
    /// Transfer blocks may be zlib-compressed.
    public static let zlib = "zlib"
    /// The agent makes backups and serves their objects (PROTOCOL.md §7.6).
    public static let backup = "backup"
}

/// What the handshake settled (PROTOCOL.md §5.2).
public struct Negotiated: Hashable, Sendable {
    /// The protocol version in use.
    public var version: UInt32
    /// The peer's identity as it stated it in HELLO or WELCOME.
    public var peerIdentity: String
    /// The peer's software.
    public var peerSoftware: String
    /// Features both sides use.
    public var features: Set<String>
    /// Largest payload we may send.
    public var peerMaxFrameSize: Int
    /// How often the agent sends HEARTBEAT.
    public var heartbeatInterval: TimeAmount
    /// Silence after which the connection is closed.
    public var idleTimeout: TimeAmount
    /// Streams we may have open that we opened.
    public var peerMaxStreams: Int
    /// Hex serial of the peer's TLS client certificate (server side, over TLS).
    public var peerCertificateSerial: String? = nil
}
