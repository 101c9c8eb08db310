import NIOCore

extension SessionStateMachine {
    /// PROTOCOL.md §5.1: the server's first frame must be HELLO on stream 0.
    mutating func receivedDuringHandshake(_ frame: Frame, now: NIODeadline) -> ReceiveAction {
        switch (self.role, frame.payload) {
        case (.server, .message(.hello(let hello))) where frame.streamID == 0:
            return self.receivedHello(hello, now: now)
        case (.client, .message(.welcome(let welcome))) where frame.streamID == 0:
            return self.receivedWelcome(welcome, now: now)
        case (_, .goAway(let goAway)):
            // A refusal: the peer explains and closes.
            self.state = .closed
            return .goAway(goAway)
        default:
            return self.fail(WireError(.handshakeRequired, "\(frame.kind) frame before the handshake completed"))
        }
    }

    private mutating func receivedHello(_ hello: Hello, now: NIODeadline) -> ReceiveAction {
        // PROTOCOL.md §5.2: the highest version both speak.
        guard let version = Set(hello.versions).intersection(self.configuration.versions).max() else {
            return self.fail(WireError(.versionMismatch, "no common version: peer speaks \(hello.versions.sorted()), we speak \(self.configuration.versions.sorted())"))
        }
        if let identity = self.peerCertificateIdentity, identity != hello.agentID {
            return self.fail(WireError(.unauthorized, "HELLO names \"\(hello.agentID)\" but the certificate names \"\(identity)\""))
        }
        let peerLimits: PeerLimits
        do {
            peerLimits = try PeerLimits(maxFrameSize: hello.maxFrameSize, streamWindow: hello.streamWindow, connectionWindow: hello.connectionWindow)
        } catch {
            return self.fail(error)
        }
        let features = Set(hello.features).intersection(self.configuration.features)
        let negotiated = Negotiated(
            version: version,
            peerIdentity: hello.agentID,
            peerSoftware: hello.software,
            features: features,
            peerMaxFrameSize: peerLimits.maxFrameSize,
            heartbeatInterval: self.configuration.heartbeatInterval,
            idleTimeout: self.configuration.idleTimeout,
            peerMaxStreams: hello.maxStreams == 0 ? WireLimits.defaultMaxStreams : Int(hello.maxStreams),
            peerCertificateSerial: self.peerCertificateSerial
        )
        self.state = .established(self.established(negotiated, peerLimits: peerLimits, now: now))
        let welcome = Welcome(
            version: version,
            controllerID: self.configuration.identity,
            software: self.configuration.software,
            features: features.sorted(),
            maxFrameSize: UInt32(self.configuration.maxFrameSize),
            streamWindow: UInt32(self.configuration.streamWindow),
            connectionWindow: UInt32(self.configuration.connectionWindow),
            heartbeatIntervalMillis: UInt32(clamping: self.configuration.heartbeatInterval.nanoseconds / 1_000_000),
            idleTimeoutMillis: UInt32(clamping: self.configuration.idleTimeout.nanoseconds / 1_000_000),
            maxStreams: UInt32(self.configuration.maxStreams)
        )
        return .established(negotiated, reply: Frame(streamID: 0, payload: .message(.welcome(welcome))))
    }

    private mutating func receivedWelcome(_ welcome: Welcome, now: NIODeadline) -> ReceiveAction {
        guard self.configuration.versions.contains(welcome.version) else {
            return self.fail(WireError(.versionMismatch, "WELCOME chose version \(welcome.version), which we did not offer"))
        }
        let peerLimits: PeerLimits
        do {
            peerLimits = try PeerLimits(maxFrameSize: welcome.maxFrameSize, streamWindow: welcome.streamWindow, connectionWindow: welcome.connectionWindow)
        } catch {
            return self.fail(error)
        }
        guard welcome.heartbeatIntervalMillis > 0, welcome.idleTimeoutMillis > welcome.heartbeatIntervalMillis else {
            return self.fail(WireError(.protocolError, "WELCOME heartbeat \(welcome.heartbeatIntervalMillis) ms, idle timeout \(welcome.idleTimeoutMillis) ms"))
        }
        let negotiated = Negotiated(
            version: welcome.version,
            peerIdentity: welcome.controllerID,
            peerSoftware: welcome.software,
            features: Set(welcome.features).intersection(self.configuration.features),
            peerMaxFrameSize: peerLimits.maxFrameSize,
            heartbeatInterval: .milliseconds(Int64(welcome.heartbeatIntervalMillis)),
            idleTimeout: .milliseconds(Int64(welcome.idleTimeoutMillis)),
            peerMaxStreams: welcome.maxStreams == 0 ? WireLimits.defaultMaxStreams : Int(welcome.maxStreams)
        )
        self.state = .established(self.established(negotiated, peerLimits: peerLimits, now: now))
        return .established(negotiated, reply: nil)
    }

    private func established(_ negotiated: Negotiated, peerLimits: PeerLimits, now: NIODeadline) -> Established {
        Established(
            negotiated: negotiated,
            outboundConnectionWindow: peerLimits.connectionWindow,
            inboundConnectionWindow: self.configuration.connectionWindow,
            initialOutboundStreamWindow: peerLimits.streamWindow,
            initialInboundStreamWindow: self.configuration.streamWindow,
            lastReceived: now
        )
    }
}

/// The limits a peer announced, with the defaults of PROTOCOL.md §5.2 for absent fields.
struct PeerLimits {
    var maxFrameSize: Int
    var streamWindow: Int
    var connectionWindow: Int

    static let defaultWindow = 65_535

    init(maxFrameSize: UInt32, streamWindow: UInt32, connectionWindow: UInt32) throws(WireError) {
        let frame = maxFrameSize == 0 ? WireLimits.minMaxFrameSize : Int(maxFrameSize)
        // PROTOCOL.md §5.2: max_frame_size outside [16384, 1048576] is a PROTOCOL_ERROR.
        guard frame >= WireLimits.minMaxFrameSize, frame <= WireLimits.hardMaxFrameSize else {
            throw WireError(.protocolError, "max_frame_size \(maxFrameSize) outside [\(WireLimits.minMaxFrameSize), \(WireLimits.hardMaxFrameSize)]")
        }
        guard Int(streamWindow) <= WireLimits.maxWindow, Int(connectionWindow) <= WireLimits.maxWindow else {
            throw WireError(.flowControlError, "initial window above 2^31-1")
        }
        self.maxFrameSize = frame
        self.streamWindow = streamWindow == 0 ? Self.defaultWindow : Int(streamWindow)
        self.connectionWindow = connectionWindow == 0 ? Self.defaultWindow : Int(connectionWindow)
    }
}
