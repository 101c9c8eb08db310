import NIOCore
import Platform
import Wire

/// Everything the agent needs to run, with defaults.
public struct AgentConfiguration: Sendable {
    /// Holds the identity, the CA and the controller address; later config generations and partial transfers.
    public var stateDirectory: String
    /// The controller's wire addresses, in order of preference: replicas of one
    /// controller. The agent connects to one; when that fails it tries the next at once,
    /// and backs off only after a failure at every one of them.
    public var controllers: [ControllerAddress]
    /// The first address.
    public var controllerHost: String { self.controllers[0].host }
    public var controllerPort: Int { self.controllers[0].port }
    /// Reconnect delays: full jitter between 0 and min(cap, base × 2^attempt).
    public var reconnectBase: TimeAmount = .milliseconds(500)
    public var reconnectCap: TimeAmount = .seconds(60)
    /// How long a connection attempt (TCP + TLS + handshake) may take.
    public var connectTimeout: TimeAmount = .seconds(10)
    /// Where host health and firmware are read from.
    public var roots = HostRoots()
    /// Disk use above this percentage raises an alarm.
    public var diskAlarmPercent: Double = 90
    /// systemd units that must be active, or an alarm is raised.
    public var watchedUnits: [String] = []
    /// Whether to look for `fwupdtool` for device firmware.
    public var useFwupd = true
    /// A transfer stream with no data for this long is cancelled and asked for again.
    public var transferStallTimeout: Duration = .seconds(30)
    /// The largest frame this agent accepts (PROTOCOL.md §5.2): smaller on slow links,
    /// so control frames wait less behind bulk data.
    public var maxFrameSize = WireLimits.defaultMaxFrameSize
    /// Config files' paths are taken under this directory (`/` on a real site).
    public var configRoot = "/"
    /// Allow-listed reload actions a config generation may name: name → program and arguments.
    public var reloadActions: [String: [String]] = [:]
    /// The OSTree repository deltas are applied to (default: `ostree-repo` in the state directory, bare-user).
    public var ostreeRepository: String?
    /// With a sysroot, commits are applied to its repository and deployed (`ostree admin deploy`).
    public var ostreeSysroot: String?
    /// The stateroot (`--os`) deployments go to.
    public var ostreeOS = "tern"
    /// The program that installs a firmware image: run as `PROGRAM COMPONENT VERSION IMAGE`.
    public var firmwareCommand: String?
    /// Absolute paths a backup archives (`--backup-path`); none: backups fail and say so.
    public var backupPaths: [String] = []
    /// tar `--exclude` patterns left out of backups.
    public var backupExcludes: [String] = []
    /// Whether a restore may create device files (refused by default).
    public var restoreDevices = false
    /// The protocol features this agent announces (PROTOCOL.md §5.3). An agent built before
    /// backups announced `zlib` only; the controller then reports its backups as unsupported.
    public var features = [WireFeature.zlib, WireFeature.backup]
    /// The local address connections leave from (nil: the system's choice). A simulator
    /// spreads its agents over 127.0.0.0/8 so one box is not limited by ephemeral ports.
    public var sourceAddress: String?
    /// Heartbeats this often instead of at the controller's interval (a simulator's
    /// load knob; the controller's offline rule still counts from its own interval).
    public var heartbeatInterval: Duration?

    public init(stateDirectory: String, controllerHost: String, controllerPort: Int) {
        self.init(stateDirectory: stateDirectory, controllers: [ControllerAddress(host: controllerHost, port: controllerPort)])
    }

    /// `controllers` must not be empty.
    public init(stateDirectory: String, controllers: [ControllerAddress]) {
        precondition(!controllers.isEmpty, "an agent needs at least one controller address")
        self.stateDirectory = stateDirectory
        self.controllers = controllers
    }
}

/// HOST and PORT of a controller's protocol port.
public struct ControllerAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// HOST:PORT or [IPv6]:PORT.
    public init(parsing text: String) throws {
        (self.host, self.port) = try HostPort.parse(text)
    }

    public var description: String { self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)" }
}

/// The version of this build.
public enum AgentVersion {
    public static let current = "0.2.0"
}
