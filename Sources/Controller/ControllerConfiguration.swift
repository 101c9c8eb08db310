import NIOCore
import Wire

/// Everything the controller needs to start, with the defaults an operator gets
/// when neither the config file nor a flag says otherwise.
public struct ControllerConfiguration: Sendable {
    /// Holds the CA, the server certificate, the fleet database, the API token and the config file.
    public var dataDirectory: String
    /// The shared PostgreSQL store (`postgres://USER@HOST:PORT/DB`) of controller
    /// replicas; nil: the embedded SQLite file in the data directory.
    public var storeURL: String?
    /// This controller's protocol address as agents reach it, HOST:PORT, which replicas
    /// hand out at enrolment as the others to move to (`advertise`; default: the
    /// listener's, unless it listens on every address).
    public var advertise: String?
    func advertiseAddress(boundPort: Int) -> String? {
        if let advertise { return advertise }
        guard !["0.0.0.0", "::", ""].contains(self.listenHost) else { return nil }
        return self.listenHost.contains(":") ? "[\(self.listenHost)]:\(boundPort)" : "\(self.listenHost):\(boundPort)"
    }
    /// The wire protocol listener (mutual TLS).
    public var listenHost = "127.0.0.1"
    public var listenPort = 7447
    /// The enrolment listener (TLS, no client certificate; PROTOCOL.md §2.2).
    public var enrolHost = "127.0.0.1"
    public var enrolPort = 7448
    /// The operator REST API and /metrics.
    public var apiHost = "127.0.0.1"
    public var apiPort = 7480
    /// The name the controller states in WELCOME.
    public var identity = "tern-controller"
    /// Names and addresses agents use to reach the controller: they go in the server certificate.
    public var serverNames: [String] = ["localhost"]
    /// How often agents send HEARTBEAT (10 s: a heartbeat costs the controller about
    /// 0.2 ms of CPU and no store write of its own; see BENCHMARKS.md, "Scale").
    public var heartbeatInterval: TimeAmount = .seconds(10)
    /// Heartbeats missed before a subcloud is offline.
    public var missedHeartbeats = 3
    /// A subcloud whose connection closed is offline after this long without a new one.
    public var disconnectGrace: TimeAmount = .seconds(10)
    /// After the controller starts, subclouds get this long to reconnect before they can
    /// be offline: at least the agents' reconnect backoff cap (60 s) plus a connect timeout.
    public var startupGrace: TimeAmount = .seconds(75)
    /// How long a graceful shutdown waits for agents to leave after GOAWAY.
    public var drainTimeout: TimeAmount = .seconds(10)
    /// Lifetime of a bootstrap token from `subcloud add`.
    public var tokenLifetime: TimeAmount = .hours(24)
    /// Lifetime of an agent's client certificate.
    public var certificateValidity: TimeAmount = .hours(24 * 30)
    /// Time from accept to a finished TLS handshake on the wire and enrolment ports.
    public var tlsHandshakeTimeout: TimeAmount = .seconds(10)
    /// Connections per port that have not authenticated yet (wire port: TLS not done;
    /// enrolment port: open); past it the port stops accepting until one finishes, and
    /// new connections wait in the kernel's accept queue.
    public var maxUnauthenticatedConnections = 256
    /// Agents' connections open at once, at most; nil: the descriptor limit less a
    /// reserve (`DescriptorLimit.connections(within:)`). Past it new ones wait in the
    /// accept queue.
    public var maxConnections: Int?
    /// An enrolment connection is closed this long after accept, whatever it is doing.
    public var enrolmentLifetime: TimeAmount = .seconds(30)
    /// The API closes a connection with no request in progress after this long.
    public var apiIdleTimeout: TimeAmount = .seconds(60)
    /// The API gives a request this long to arrive in full (headers and body).
    public var apiRequestTimeout: TimeAmount = .seconds(30)
    /// Serve the API over TLS with a certificate from the controller's CA.
    public var apiTLS = false

    /// HOST or HOST:PORT installed nodes dial to enrol (nil: the enrolment listener).
    public var installAddress: String?
    /// Backups and restores running at once, fleet-wide (StarlingX's defaults).
    public var maxParallelBackups = 250
    public var maxParallelRestores = 100
    /// The URL base BMCs fetch boot images from (nil: the API listener).
    public var installImageBase: String?
    /// The agent binary boot images carry (nil: `tern-agent` beside the running program).
    public var bootAgent: String?
    /// The kernel boot images carry (nil: the newest `/boot/vmlinuz-*`).
    public var bootKernel: String?
    /// Where boot images' kernel and agent layers are cached (nil: DATA/boot-kit).
    public var bootCache: String?

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    /// Silence after which a connection is closed: one heartbeat more than the offline threshold.
    public var idleTimeout: TimeAmount { self.heartbeatInterval * Int64(self.missedHeartbeats + 1) }

    /// Silence after which a subcloud is offline.
    public var offlineAfter: TimeAmount { self.heartbeatInterval * Int64(self.missedHeartbeats) }

    /// The wire session settings for a controller with this configuration.
    var session: SessionConfiguration {
        var session = SessionConfiguration(identity: self.identity, software: "tern-controller \(TernVersion.current)")
        session.heartbeatInterval = self.heartbeatInterval
        session.idleTimeout = self.idleTimeout
        return session
    }

    var databasePath: String { self.dataDirectory + "/fleet.sqlite" }
    var apiTokenPath: String { self.dataDirectory + "/api-token" }
    var apiAddressPath: String { self.dataDirectory + "/api-address" }
    public var configFilePath: String { self.dataDirectory + "/controller.conf" }
}

/// The version of this build.
public enum TernVersion {
    public static let current = "0.2.0"
}
