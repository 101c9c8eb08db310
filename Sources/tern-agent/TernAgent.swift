import Agent
import ArgumentParser
import Foundation
import Logging
import NIOCore
import Platform
import ServiceLifecycle
import Wire

@main
struct TernAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tern-agent",
        abstract: "The Tern edge agent: one long-lived connection to the controller.",
        version: AgentVersion.current,
        subcommands: [Enroll.self, Run.self]
    )
}

func bootstrapLogging(_ level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enrol this node once: make its key, present the one-time token, store the certificate.",
        discussion: "The key is generated here and never leaves the node. The controller's CA is trusted only if its SHA-256 fingerprint matches --ca-fingerprint."
    )

    @Option(help: "The controller's enrolment address, HOST:PORT (as printed by `subcloud add`).") var controller: String
    @Option(help: "The one-time bootstrap token from `subcloud add`.") var token: String
    @Option(help: "The CA fingerprint from `subcloud add`, sha256:HEX.") var caFingerprint: String
    @Option(help: "The agent's state directory.") var state: String = "/var/lib/tern-agent"
    @Flag(help: "Replace an existing identity in the state directory.") var force = false
    @Option(help: "Log level.") var logLevel: Logger.Level = .info

    func run() async throws {
        bootstrapLogging(self.logLevel)
        let hex = self.caFingerprint.hasPrefix("sha256:") ? String(self.caFingerprint.dropFirst(7)) : self.caFingerprint
        guard let fingerprint = ContentDigest(hex: hex) else { throw ValidationError("--ca-fingerprint must be sha256: and 64 hex digits") }
        if !self.force, (try? AgentIdentity.load(stateDirectory: self.state)) != nil {
            throw ValidationError("\(self.state) already holds an identity; use --force to enrol again")
        }
        let (host, port) = try HostPort.parse(self.controller)
        let name = try await Enroller(
            controllerHost: host, controllerPort: port, token: self.token, caFingerprint: fingerprint,
            stateDirectory: self.state, logger: Logger(label: "tern.agent")
        ).enrol()
        print("enrolled as \(name); start the agent with: tern-agent run --state \(self.state)")
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Connect to the controller and stay connected until SIGTERM (systemd Type=notify).")

    @Option(help: "The agent's state directory (identity, CA, controller address).") var state: String = "/var/lib/tern-agent"
    @Option(help: "A boot image's seed (seed.json): with no identity in --state yet, enrol with it first (zero-touch install).") var seed: String?
    @Option(help: "A controller wire address, HOST:PORT; repeat for replicas, tried in order (default: saved at enrolment).")
    var controller: [String] = []
    @Option(help: "Longest reconnect delay in seconds.") var reconnectCap: Int = 60
    @Option(help: "Where procfs is mounted (tests point this at a fixture tree).") var procRoot: String = "/proc"
    @Option(help: "Where sysfs is mounted (tests point this at a fixture tree).") var sysRoot: String = "/sys"
    @Option(help: "Raise an alarm when a filesystem is fuller than this percentage.") var diskAlarmPercent: Double = 90
    @Option(name: .customLong("watch-unit"), help: "A systemd unit that must be active (repeatable).") var watchedUnits: [String] = []
    @Flag(help: "Do not ask fwupdtool for device firmware.") var noFwupd = false
    @Option(help: "The largest frame to accept, bytes (16384 to 1048576); smaller on slow links so control messages wait less behind transfers.") var maxFrameSize: Int = WireLimits.defaultMaxFrameSize
    @Option(help: "Config file paths are written under this directory.") var configRoot: String = "/"
    @Option(name: .customLong("reload-action"), help: "NAME=PROGRAM [ARGS...]: a reload action config generations may name (repeatable; no shell).") var reloadActions: [String] = []
    @Option(help: "The OSTree repository to apply deltas to (default: STATE/ostree-repo, created bare-user).") var ostreeRepo: String?
    @Option(help: "An OSTree sysroot: deltas go to its repository and each commit is deployed.") var ostreeSysroot: String?
    @Option(help: "The stateroot for OSTree deployments.") var ostreeOs: String = "tern"
    @Option(help: "Program that installs a firmware image, run as PROGRAM COMPONENT VERSION IMAGE.") var firmwareCommand: String?
    @Option(name: .customLong("backup-path"), help: "An absolute path backups archive (repeatable).") var backupPaths: [String] = []
    @Option(name: .customLong("backup-exclude"), help: "A tar --exclude pattern left out of backups (repeatable).") var backupExcludes: [String] = []
    @Flag(help: "Let restores create device files (refused by default).") var restoreDevices = false
    @Option(help: "Seconds after which a transfer that carries nothing (a stalled link, or a full disk) is asked for again.") var transferStallTimeout: Int = 30
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: Logger.Level = .info

    func run() async throws {
        bootstrapLogging(self.logLevel)
        if let seed = self.seed {
            do {
                let firstBoot = FirstBoot(seed: try InstallSeed.read(from: seed), stateDirectory: self.state, logger: Logger(label: "tern.agent"))
                _ = try await firstBoot.enrolIfNeeded()
            } catch let failure as FirstBoot.Failure {
                // Not a usage error: say why and stop; the boot image's init says what to do next.
                FileHandle.standardError.write(Data("tern-agent: \(failure.description)\n".utf8))
                throw ExitCode(78)  // EX_CONFIG
            }
        }
        let identity = try AgentIdentity.load(stateDirectory: self.state)
        var logger = Logger(label: "tern.agent")
        logger[metadataKey: "subcloud"] = "\(identity.name)"
        let addresses = self.controller.isEmpty ? try AgentIdentity.controllerAddresses(stateDirectory: self.state) : self.controller
        guard !addresses.isEmpty else {
            throw ValidationError("no --controller given and none saved in \(self.state)")
        }
        let controllers = try addresses.map { address in
            do { return try ControllerAddress(parsing: address) } catch { throw ValidationError("--controller \(address): \(error)") }
        }
        var configuration = AgentConfiguration(stateDirectory: self.state, controllers: controllers)
        configuration.reconnectCap = .seconds(Int64(self.reconnectCap))
        configuration.roots = HostRoots(proc: self.procRoot, sys: self.sysRoot)
        configuration.diskAlarmPercent = self.diskAlarmPercent
        configuration.watchedUnits = self.watchedUnits
        configuration.useFwupd = !self.noFwupd
        guard (WireLimits.minMaxFrameSize...WireLimits.hardMaxFrameSize).contains(self.maxFrameSize) else {
            throw ValidationError("--max-frame-size must be between \(WireLimits.minMaxFrameSize) and \(WireLimits.hardMaxFrameSize)")
        }
        configuration.maxFrameSize = self.maxFrameSize
        configuration.configRoot = self.configRoot
        for action in self.reloadActions {
            guard let equals = action.firstIndex(of: "="), equals != action.startIndex else {
                throw ValidationError("--reload-action takes NAME=PROGRAM [ARGS...], got \"\(action)\"")
            }
            let command = action[action.index(after: equals)...].split(separator: " ").map(String.init)
            guard !command.isEmpty else { throw ValidationError("--reload-action \(action): no program given") }
            configuration.reloadActions[String(action[..<equals])] = command
        }
        configuration.ostreeRepository = self.ostreeRepo
        configuration.ostreeSysroot = self.ostreeSysroot
        configuration.ostreeOS = self.ostreeOs
        configuration.firmwareCommand = self.firmwareCommand
        for path in self.backupPaths where !path.hasPrefix("/") || path == "/" || path.split(separator: "/").contains("..") {
            throw ValidationError("--backup-path \(path): give an absolute path below / without ..")
        }
        configuration.backupPaths = self.backupPaths.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        configuration.backupExcludes = self.backupExcludes
        configuration.restoreDevices = self.restoreDevices
        guard self.transferStallTimeout > 0 else { throw ValidationError("--transfer-stall-timeout must be at least 1") }
        configuration.transferStallTimeout = .seconds(self.transferStallTimeout)
        let link = ControllerLink(configuration: configuration, logger: logger)
        let notifier = SystemdNotifier()
        let group = ServiceGroup(configuration: .init(services: [.init(service: link)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // Ready means running and trying: a site must come up even while the controller is away.
        notifier.notify("READY=1")
        try await group.run()
        notifier.notify("STOPPING=1")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
