import NIOCore
import Wire

/// Everything the controller needs to start, with the defaults an operator gets
/// when a flag is not given.
public struct ControllerConfiguration: Sendable {
    /// Holds the CA, the server certificate, and later the fleet store.
    public var dataDirectory: String
    /// The wire protocol listener.
    public var listenHost = "127.0.0.1"
    public var listenPort = 7447
    /// The name the controller states in WELCOME.
    public var identity = "tern-controller"
    /// Names and addresses agents use to reach the controller: they go in the server certificate.
    public var serverNames: [String] = ["localhost"]
    /// How often agents send HEARTBEAT.
    public var heartbeatInterval: TimeAmount = .seconds(30)
    /// Silence after which a connection is closed.
    public var idleTimeout: TimeAmount = .seconds(90)
    /// How long a graceful shutdown waits for agents to leave after GOAWAY.
    public var drainTimeout: TimeAmount = .seconds(10)

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    /// The wire session settings for a controller with this configuration.
    var session: SessionConfiguration {
        var session = SessionConfiguration(identity: self.identity, software: "tern-controller \(TernVersion.current)")
        session.heartbeatInterval = self.heartbeatInterval
        session.idleTimeout = self.idleTimeout
        return session
    }
}

/// The version of this build.
public enum TernVersion {
    public static let current = "0.1.0"
}
