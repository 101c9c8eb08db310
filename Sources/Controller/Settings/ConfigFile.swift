import Foundation
import NIOCore
import Platform
import Wire

/// `controller.conf` in the data directory: `key = value` lines, `#` comments.
/// Written with every default on first start, so the operator sees what can be set.
public enum ConfigFile {
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    static let template = """
        # tern-controller configuration. Flags given to `tern-controller serve` override these.
        # Addresses are HOST:PORT. Durations are in seconds unless the key says otherwise.

        # Wire protocol listener: agents connect here over mutual TLS 1.3.
        listen = 127.0.0.1:7447
        # Enrolment listener: TLS without client certificates, one-time tokens only.
        enrol_listen = 127.0.0.1:7448
        # Operator REST API and /metrics. Bound beyond loopback, set api_tls = true:
        # the bearer token would otherwise travel in the clear.
        api_listen = 127.0.0.1:7480
        api_tls = false
        # Names and IPv4 addresses agents use to reach the controller (comma-separated);
        # they go into the server certificate when it is first created.
        server_names = localhost
        # Agents send a heartbeat this often.
        heartbeat_interval = 10
        # A subcloud is offline after this many missed heartbeats.
        missed_heartbeats = 3
        # ... or this many seconds after its connection closed without a new one.
        disconnect_grace = 10
        # After a controller start, subclouds have this many seconds to reconnect before
        # they can be offline: keep it above the agents' reconnect cap (60) plus 10.
        startup_grace = 75
        # Bootstrap tokens from `subcloud add` expire after this many hours.
        token_lifetime_hours = 24
        # Agent certificates are valid this many days; agents renew at two thirds.
        certificate_validity_days = 30
        # On SIGTERM, wait this long for agents to leave after GOAWAY.
        drain_timeout = 10
        # Unauthenticated peers: seconds from accept to a finished TLS handshake; how many
        # such connections each port holds at once (past it the port stops accepting and
        # new connections wait in the accept queue); and
        # seconds an enrolment connection may last.
        tls_handshake_timeout = 10
        max_unauthenticated_connections = 256
        enrolment_lifetime = 30
        # Agents' connections open at once (default: the descriptor limit less a tenth,
        # at least 1,024 or half, kept for files and the database); past it new ones wait in the
        # accept queue.
        # max_connections = 18000
        # API: seconds an idle keep-alive connection stays open, and seconds a request
        # has to arrive in full.
        api_idle_timeout = 60
        api_request_timeout = 30

        # Zero-touch install (`subcloud install`). Unset keys take the default shown.
        # HOST or HOST:PORT a node booted from a boot image dials to enrol (must be in
        # server_names); default: enrol_listen.
        # install_address = 10.0.0.1
        # URL the BMCs fetch boot images from (plain HTTP works: each image is served
        # once and its token is single-use); default: the API listener.
        # install_image_base = http://10.0.0.1:7480
        # The agent binary put into boot images (build with scripts/build-boot-agent.sh);
        # default: tern-agent beside this program.
        # boot_agent = /usr/lib/tern/tern-agent-boot
        # The kernel for boot images; default: the newest /boot/vmlinuz-*.
        # boot_kernel = /boot/vmlinuz-6.1.0-57-amd64
        # Where the kernel/agent layers of boot images are cached; default: DATA/boot-kit.
        # boot_cache = /var/cache/tern/boot-kit

        # Backups (`backup create`) and restores running at once, fleet-wide.
        max_parallel_backups = 250
        max_parallel_restores = 100

        """

    /// Reads `path` (writing the template first if it does not exist) and applies it.
    public static func apply(path: String, to configuration: inout ControllerConfiguration) throws {
        guard let text = try AtomicFile.readString(path) else {
            try AtomicFile.write(self.template, to: path, mode: 0o644)
            return try self.apply(text: self.template, to: &configuration)
        }
        try self.apply(text: text, to: &configuration)
    }

    public static func apply(text: String, to configuration: inout ControllerConfiguration) throws {
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first!.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty else { continue }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw Invalid(description: "line \(number + 1): expected key = value") }
            let (key, value) = (parts[0], parts[1])
            func seconds() throws -> Int64 {
                guard let number = Int64(value), number > 0 else { throw Invalid(description: "line \(number + 1): \(key) must be a positive whole number") }
                return number
            }
            switch key {
            case "store": configuration.storeURL = value
            case "advertise": configuration.advertise = value
            case "listen": (configuration.listenHost, configuration.listenPort) = try HostPort.parse(value)
            case "enrol_listen": (configuration.enrolHost, configuration.enrolPort) = try HostPort.parse(value)
            case "api_listen": (configuration.apiHost, configuration.apiPort) = try HostPort.parse(value)
            case "server_names": configuration.serverNames = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            case "heartbeat_interval": configuration.heartbeatInterval = .seconds(try seconds())
            case "missed_heartbeats": configuration.missedHeartbeats = Int(try seconds())
            case "token_lifetime_hours": configuration.tokenLifetime = .hours(try seconds())
            case "certificate_validity_days": configuration.certificateValidity = .hours(try seconds() * 24)
            case "drain_timeout": configuration.drainTimeout = .seconds(try seconds())
            case "disconnect_grace": configuration.disconnectGrace = .seconds(try seconds())
            case "startup_grace": configuration.startupGrace = .seconds(try seconds())
            case "tls_handshake_timeout": configuration.tlsHandshakeTimeout = .seconds(try seconds())
            case "max_unauthenticated_connections": configuration.maxUnauthenticatedConnections = Int(try seconds())
            case "max_connections": configuration.maxConnections = Int(try seconds())
            case "enrolment_lifetime": configuration.enrolmentLifetime = .seconds(try seconds())
            case "api_idle_timeout": configuration.apiIdleTimeout = .seconds(try seconds())
            case "api_request_timeout": configuration.apiRequestTimeout = .seconds(try seconds())
            case "install_address": configuration.installAddress = value
            case "install_image_base": configuration.installImageBase = value
            case "boot_agent": configuration.bootAgent = value
            case "boot_kernel": configuration.bootKernel = value
            case "boot_cache": configuration.bootCache = value
            case "max_parallel_backups": configuration.maxParallelBackups = max(1, Int(try seconds()))
            case "max_parallel_restores": configuration.maxParallelRestores = max(1, Int(try seconds()))
            case "api_tls":
                guard let flag = Bool(value) else { throw Invalid(description: "line \(number + 1): api_tls must be true or false") }
                configuration.apiTLS = flag
            default: throw Invalid(description: "line \(number + 1): unknown setting \"\(key)\"")
            }
        }
    }
}
