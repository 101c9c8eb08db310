import ArgumentParser
import Controller
import Logging
import NIOCore
import Platform
import Wire

@main
struct TernController: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tern-controller",
        abstract: "The Tern central controller: fleet registry, enrolment and content delivery for edge sites.",
        version: TernVersion.current,
        subcommands: [
            Serve.self, SubcloudCommand.self, GroupCommand.self, ConfigCommand.self, SoftwareCommand.self, ImagesCommand.self,
            FirmwareCommand.self, DeploymentCommand.self, StrategyCommand.self, BackupCommand.self, ObjectsCommand.self, AlarmCommand.self, EventCommand.self, TokenCommand.self, Certs.self,
        ]
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the controller until SIGTERM (systemd Type=notify).",
        discussion: "Settings come from DATA/controller.conf (written with every default on first start); flags override it."
    )

    @Option(name: .long, help: "The controller's data directory (CA, certificates, fleet database, API token, controller.conf).")
    var data: String = "/var/lib/tern-controller"

    @Option(help: "The fleet store shared by controller replicas, postgres://USER@HOST:PORT/DB (store in controller.conf; default: SQLite in the data directory). The password, if any, from PGPASSWORD.")
    var store: String?
    @Option(help: "This replica's protocol address as agents reach it, HOST:PORT, handed out at enrolment (advertise; default: --listen's unless it is 0.0.0.0).")
    var advertise: String?
    @Option(help: "Wire protocol listener, HOST:PORT.") var listen: String?
    @Option(help: "Enrolment listener, HOST:PORT.") var enrolListen: String?
    @Option(help: "REST API and /metrics listener, HOST:PORT.") var apiListen: String?
    @Option(help: "Seconds between agent heartbeats.") var heartbeatInterval: Int?
    @Option(help: "Heartbeats missed before a subcloud is offline.") var missedHeartbeats: Int?
    @Option(help: "Seconds after a subcloud's connection closed before it is offline.") var disconnectGrace: Int?
    @Option(help: "Seconds subclouds have to reconnect after the controller starts (keep above the agents' reconnect cap).") var startupGrace: Int?
    @Option(name: .customLong("server-name"), help: "A name or IPv4 address agents use to reach the controller (repeatable).")
    var serverNames: [String] = []
    @Option(help: "HOST or HOST:PORT installed nodes dial to enrol (install_address).") var installAddress: String?
    @Option(help: "URL base BMCs fetch boot images from, http://HOST:PORT (install_image_base).") var installImageBase: String?
    @Option(help: "The tern-agent binary boot images carry (boot_agent).") var bootAgent: String?
    @Option(help: "The kernel boot images carry (boot_kernel).") var bootKernel: String?
    @Option(help: "Cache folder for boot images' kernel and agent layers (boot_cache).") var bootCache: String?
    @Option(help: "Backups running at once, fleet-wide (max_parallel_backups; default 250).") var maxParallelBackups: Int?
    @Option(help: "Restores running at once, fleet-wide (max_parallel_restores; default 100).") var maxParallelRestores: Int?
    @Flag(help: "Serve the API over TLS 1.3 with a certificate from the controller's CA (api_tls in controller.conf).") var apiTls = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: Logger.Level = .info

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = self.logLevel
            return handler
        }
        let logger = Logger(label: "tern.controller")
        var configuration = ControllerConfiguration(dataDirectory: self.data)
        try AtomicFile.makeDirectory(self.data, mode: 0o700)
        try ConfigFile.apply(path: configuration.configFilePath, to: &configuration)
        if let store { configuration.storeURL = store }
        if let advertise { configuration.advertise = advertise }
        if let listen { (configuration.listenHost, configuration.listenPort) = try HostPort.parse(listen) }
        if let enrolListen { (configuration.enrolHost, configuration.enrolPort) = try HostPort.parse(enrolListen) }
        if let apiListen { (configuration.apiHost, configuration.apiPort) = try HostPort.parse(apiListen) }
        if let heartbeatInterval { configuration.heartbeatInterval = .seconds(Int64(heartbeatInterval)) }
        if let missedHeartbeats { configuration.missedHeartbeats = missedHeartbeats }
        if let disconnectGrace { configuration.disconnectGrace = .seconds(Int64(disconnectGrace)) }
        if let startupGrace { configuration.startupGrace = .seconds(Int64(startupGrace)) }
        if !self.serverNames.isEmpty { configuration.serverNames = self.serverNames }
        if self.apiTls { configuration.apiTLS = true }
        if let installAddress { configuration.installAddress = installAddress }
        if let installImageBase { configuration.installImageBase = installImageBase }
        if let bootAgent { configuration.bootAgent = bootAgent }
        if let bootKernel { configuration.bootKernel = bootKernel }
        if let bootCache { configuration.bootCache = bootCache }
        if let maxParallelBackups { configuration.maxParallelBackups = max(1, maxParallelBackups) }
        if let maxParallelRestores { configuration.maxParallelRestores = max(1, maxParallelRestores) }
        let app = try await ControllerApp.build(configuration: configuration, logger: logger)
        try await app.run(logger: logger)
    }
}

struct Certs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The controller's certificate authority.",
        subcommands: [Init.self]
    )

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the CA and server certificate if missing; print the CA fingerprint.")

        @Option(name: .long, help: "The controller's data directory.") var data: String = "/var/lib/tern-controller"
        @Option(name: .customLong("server-name"), help: "A name or IPv4 address for the server certificate (repeatable).")
        var serverNames: [String] = ["localhost"]

        func run() async throws {
            try AtomicFile.makeDirectory(self.data, mode: 0o700)
            let pki = try ControllerPKI.loadOrCreate(dataDirectory: self.data, serverNames: self.serverNames)
            print("CA fingerprint: \(try pki.authority.fingerprint)")
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
