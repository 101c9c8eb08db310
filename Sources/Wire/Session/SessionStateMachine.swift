import NIOCore

/// The protocol logic of one connection, as a value: it takes events (frames
/// received, frames the application wants to send, the passing of time) and
/// returns what to do. It owns no channel, event loop or logger, so it is tested
/// without sockets; `WireConnectionHandler` does the I/O.
///
/// The agent is the `client` (it sends HELLO and opens odd streams); the controller
/// is the `server` (it answers WELCOME and opens even streams). PROTOCOL.md §5, §6.
public struct SessionStateMachine {
    public enum Role: Sendable {
        case client
        case server
    }

    let role: Role
    let configuration: SessionConfiguration
    var state: State

    enum State {
        /// Created; `start` not yet called.
        case idle
        /// Client: HELLO sent, waiting for WELCOME.
        case awaitingWelcome(deadline: NIODeadline)
        /// Server: waiting for HELLO.
        case awaitingHello(deadline: NIODeadline)
        case established(Established)
        /// A connection error happened or the connection was closed; nothing more is processed.
        case closed
    }

    /// Everything the open phase tracks.
    struct Established {
        var negotiated: Negotiated
        var streams: [StreamID: StreamState] = [:]
        /// DATA bytes we may send on the connection.
        var outboundConnectionWindow: Int
        /// DATA bytes the peer may still send on the connection.
        var inboundConnectionWindow: Int
        var connectionUnacknowledged = 0
        /// Per-stream windows at stream open.
        var initialOutboundStreamWindow: Int
        var initialInboundStreamWindow: Int
        /// Highest stream id we opened, and the highest the peer opened.
        var lastLocalStreamID: StreamID = 0
        var lastRemoteStreamID: StreamID = 0
        /// Set once we sent GOAWAY: peer streams above it are refused.
        var goAwaySent: StreamID?
        /// Set once the peer sent GOAWAY: we open no more streams.
        var goAwayReceived: GoAway?
        var lastReceived: NIODeadline
        var outstandingPing: (payload: UInt64, sentAt: NIODeadline)?
        var nextPingPayload: UInt64 = 1

        func isPeerParity(_ id: StreamID, role: Role) -> Bool {
            // Clients open odd streams, servers even ones (PROTOCOL.md §6.1).
            role == .server ? id % 2 == 1 : id % 2 == 0
        }
    }

    /// TLS-level identity of the peer, set by the handler once the TLS handshake is done.
    var peerCertificateIdentity: String?
    var peerCertificateSerial: String?

    public init(role: Role, configuration: SessionConfiguration) {
        self.role = role
        self.configuration = configuration
        self.state = .idle
    }

    /// Whether the handshake has completed and the connection is not closed.
    public var isEstablished: Bool {
        if case .established = self.state { return true }
        return false
    }

    /// What was negotiated, once established.
    public var negotiated: Negotiated? {
        if case .established(let established) = self.state { return established.negotiated }
        return nil
    }

    /// The largest frame payload we accept right now: the handshake limit until WELCOME.
    public var inboundMaxFrameSize: Int {
        self.isEstablished ? self.configuration.maxFrameSize : WireLimits.handshakeMaxFrameSize
    }

    /// PROTOCOL.md §5.6: the peer sent GOAWAY(NO_ERROR) and no stream is open any
    /// more, so the connection has nothing left to do and is closed.
    public var isDoneAfterPeerGoAway: Bool {
        guard case .established(let established) = self.state, let goAway = established.goAwayReceived, goAway.code == .noError else { return false }
        return established.streams.isEmpty
    }

    /// Number of open streams, for metrics and tests.
    public var openStreamCount: Int {
        if case .established(let established) = self.state { return established.streams.count }
        return 0
    }

    /// Records the identity from the peer's certificate; the server then requires HELLO to state the same name.
    public mutating func peerCertificateVerified(identity: String, serial: String? = nil) {
        self.peerCertificateIdentity = identity
        self.peerCertificateSerial = serial
    }

    /// The connection is up (TLS done). A client returns HELLO to write; a server arms the handshake timer.
    public mutating func start(now: NIODeadline) -> Frame? {
        guard case .idle = self.state else { return nil }
        let deadline = now + self.configuration.handshakeTimeout
        switch self.role {
        case .client:
            self.state = .awaitingWelcome(deadline: deadline)
            let hello = Hello(
                versions: self.configuration.versions,
                agentID: self.configuration.identity,
                software: self.configuration.software,
                features: self.configuration.features,
                maxFrameSize: UInt32(self.configuration.maxFrameSize),
                streamWindow: UInt32(self.configuration.streamWindow),
                connectionWindow: UInt32(self.configuration.connectionWindow),
                maxStreams: UInt32(self.configuration.maxStreams)
            )
            return Frame(streamID: 0, payload: .message(.hello(hello)))
        case .server:
            self.state = .awaitingHello(deadline: deadline)
            return nil
        }
    }

    /// The transport closed; nothing more will happen.
    public mutating func closed() {
        self.state = .closed
    }

    /// A connection error: move to closed and produce the GOAWAY that tells the peer why.
    mutating func fail(_ error: WireError) -> ReceiveAction {
        var lastStreamID: StreamID = 0
        if case .established(let established) = self.state { lastStreamID = established.lastRemoteStreamID }
        self.state = .closed
        let goAway = GoAway(lastStreamID: lastStreamID, code: error.code, reason: error.reason)
        return .closeConnection(error, Frame(streamID: 0, payload: .goAway(goAway)))
    }
}
