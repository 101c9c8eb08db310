import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Platform
import ServiceLifecycle
import Wire
import X509

/// The controller, assembled from its configuration: the same builder serves the
/// `tern-controller serve` command and the tests.
public struct ControllerApp: Sendable {
    public let configuration: ControllerConfiguration
    public let pki: ControllerPKI
    public let live: LiveFleet
    public let store: any FleetStore
    /// Content-addressed objects and their block cache.
    public let objects: ObjectStore
    /// Desired config, software, images and firmware per subcloud.
    public let content: ContentPlane
    /// Health reports, written to the store once a second.
    let healthFlush: HealthFlush
    public let wireServer: WireServer
    public let enrolmentServer: EnrolmentServer
    private let api: any Service
    private let availability: AvailabilityMonitor
    private let orchestrator: Orchestrator
    /// Whether this controller runs the work that must run once (always, alone; the lease holder, with replicas).
    public let leadership: Leadership
    /// With replicas: acts on other replicas' changes to subclouds connected here.
    let nudges: ReplicaNudges?
    /// With replicas: records which subclouds are connected here.
    let seenFlush: SeenFlush?
    /// Zero-touch installs.
    public let installer: Installer
    /// Backups and restores of sites.
    public let backups: Backups
    /// The dashboard's live feed.
    public let feed: FleetFeed
    private let systemd: SystemdService
    /// Resolves to the API's bound address once it listens.
    public let apiAddress: AsyncStream<SocketAddress?>


    /// Creates the data directory, PKI, database and API token if needed, and binds the wire listeners.
    public static func build(configuration: ControllerConfiguration, logger: Logger, notifier: SystemdNotifier = SystemdNotifier()) async throws -> ControllerApp {
        try AtomicFile.makeDirectory(configuration.dataDirectory, mode: 0o700)
        let pki = try ControllerPKI.loadOrCreate(dataDirectory: configuration.dataDirectory, serverNames: configuration.serverNames)
        let store: SQLFleetStore
        let leadership: Leadership
        if let url = configuration.storeURL {
            let location = try PostgresLocation(parsing: url)
            store = try await SQLFleetStore.open(try await PostgresBackend.connect(location: location, logger: logger))
            leadership = Leadership(
                store: store, replica: "\(configuration.identity)-\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(8))",
                logger: logger
            )
            logger.notice("fleet store on PostgreSQL: this controller is one replica of those sharing it", metadata: ["store": "\(location)"])
        } else {
            store = try SQLFleetStore(path: configuration.databasePath)
            leadership = .alone()
        }
        let token = try APIToken.loadOrCreate(path: configuration.apiTokenPath)
        let live = LiveFleet()
        let objects = try ObjectStore(dataDirectory: configuration.dataDirectory)
        let work = BackgroundWork(logger: logger)
        let metrics = ControllerMetrics()
        let content = ContentPlane(store: store, live: live, objects: objects, dataDirectory: configuration.dataDirectory, work: work, logger: logger)
        let (nudges, nudged) = ReplicaNudges.make(live: live, content: content, store: store, logger: logger)
        store.onNudge { names in nudged.yield(names) }
        let backups = Backups(
            store: store, live: live, objects: objects, content: content, dataDirectory: configuration.dataDirectory,
            backupLimit: configuration.maxParallelBackups, restoreLimit: configuration.maxParallelRestores, leadership: leadership, logger: logger
        )
        let healthBook = HealthBook()
        let access = Access(operatorToken: token, store: store)
        try await access.load()
        let feed = FleetFeed(store: store, changes: store.changes, logger: logger)
        let wireServer = try await WireServer.bind(configuration: configuration, pki: pki, parts: AgentSession.Parts(
            store: store, live: live, healthBook: healthBook, content: content, objects: objects, backups: backups, authority: pki.authority,
            certificateValidity: configuration.certificateValidity, drainTimeout: configuration.drainTimeout, metrics: metrics, logger: logger
        ))
        leadership.advertise(configuration.advertiseAddress(boundPort: wireServer.localAddress?.port ?? configuration.listenPort))
        let enrolmentServer = try await EnrolmentServer.bind(
            configuration: configuration, pki: pki,
            parts: .init(store: store, authority: pki.authority, certificateValidity: configuration.certificateValidity, metrics: metrics, leadership: leadership, logger: logger),
            wirePort: wireServer.localAddress?.port ?? configuration.listenPort
        )
        let (apiAddress, continuation) = AsyncStream<SocketAddress?>.makeStream()
        let enrolPort = enrolmentServer.localAddress?.port ?? configuration.enrolPort
        let enrolAddress = "\(configuration.enrolHost):\(enrolPort)"
        let apiURL = NIOLockedValueBox<String?>(configuration.installImageBase)
        let installer = Installer(
            store: store, content: content,
            builder: BootImageBuilder(
                kernel: configuration.bootKernel, agent: configuration.bootAgent ?? Self.siblingAgent(),
                cacheDirectory: configuration.bootCache ?? configuration.dataDirectory + "/boot-kit", logger: logger
            ),
            settings: .init(
                enrolAddress: Self.installAddress(configuration.installAddress ?? configuration.enrolHost, port: enrolPort),
                imageBaseURL: { apiURL.withLockedValue { $0 } ?? "http://\(configuration.apiHost):\(configuration.apiPort)" },
                caFingerprint: try pki.authority.fingerprint.hex, dataDirectory: configuration.dataDirectory
            ),
            logger: logger
        )
        let parts = APIServer.Parts(
            configuration: configuration, store: store, live: live, content: content, objects: objects, installer: installer, backups: backups,
            access: access, feed: feed, healthBook: healthBook, pki: pki,
            listeners: ["wire": wireServer.unauthenticated, "enrolment": enrolmentServer.unauthenticated], metrics: metrics, logger: logger
        )
        let api = try APIServer.make(parts, enrolAddress: enrolAddress) { address in
            if let address {
                let url = "\(configuration.apiTLS ? "https" : "http")://\(address.ipAddress ?? configuration.apiHost):\(address.port ?? configuration.apiPort)"
                apiURL.withLockedValue { if $0 == nil { $0 = url } }
                try? AtomicFile.write(url + "\n", to: configuration.apiAddressPath)
                logger.info("API listening", metadata: ["address": "\(address)"])
                logger.notice("dashboard at \(url)/ (sign in with the API token or a viewer token)")
            }
            continuation.yield(address)
            continuation.finish()
            notifier.notify("READY=1\nSTATUS=serving")
        }
        return ControllerApp(
            configuration: configuration, pki: pki, live: live, store: store, objects: objects, content: content,
            healthFlush: HealthFlush(book: healthBook, store: store, interval: .seconds(1), logger: logger),
            wireServer: wireServer, enrolmentServer: enrolmentServer, api: api,
            availability: AvailabilityMonitor(store: store, live: live, configuration: configuration, metrics: metrics, leadership: leadership, logger: logger),
            orchestrator: Orchestrator(store: store, content: content, backups: backups, metrics: metrics, logger: logger, leadership: leadership),
            leadership: leadership, nudges: leadership.isReplicated ? nudges : nil,
            seenFlush: leadership.isReplicated
                ? SeenFlush(live: live, store: store, period: .seconds(Int64(AvailabilityMonitor.seenPeriod(configuration))), logger: logger) : nil,
            installer: installer, backups: backups,
            feed: feed, systemd: SystemdService(notifier: notifier), apiAddress: apiAddress
        )
    }

    /// Every long-running part, in dependency order, for one `ServiceGroup`. Shutdown
    /// runs in reverse: systemd hears STOPPING=1 first, the API stops taking requests,
    /// then the listeners send GOAWAY and drain, background work they started
    /// finishes, and the monitor stops last. The dashboard feed stops before the API
    /// so that its open streams end and the API's drain does not wait on them.
    public var services: [any Service] {
        [
            self.leadership, self.availability, self.healthFlush, self.content.work, self.orchestrator, self.installer, self.backups, self.wireServer, self.enrolmentServer, self.api,
            self.feed, self.systemd,
        ] + self.replicaServices
    }

    /// With replicas, the services that keep them in step.
    private var replicaServices: [any Service] {
        var services: [any Service] = []
        if let seenFlush = self.seenFlush { services.append(seenFlush) }
        if let nudges = self.nudges { services.append(nudges) }
        return services
    }

    /// Makes an object from the object store part of a subcloud's desired content and
    /// offers it now if the subcloud is connected (and again on every reconnection).
    /// Returns false when the object is unknown.
    public func offer(_ digest: ContentDigest, kind: String, name: String, to subcloud: String) async throws -> Bool {
        try await self.content.deliver(digest, kind: kind, name: name, to: subcloud) != nil
    }

    /// Registers `name` and writes an identity for it into `stateDirectory`, as an
    /// enrolment would, without the exchange (tests and benchmarks; enrolment has tests
    /// of its own).
    @discardableResult
    public func provisionAgent(_ name: String, stateDirectory: String, controller: String, validity: TimeInterval = 30 * 86_400) async throws -> Certificate {
        let (_, record) = BootstrapToken.make(validFor: 60)
        _ = try await self.store.createSubcloud(name: name, group: SubcloudGroup.defaultName, description: "", token: record, at: Date())
        _ = try await self.store.consumeToken(hash: record.hash, at: Date())
        let certificate = try self.pki.provisionAgent(name: name, stateDirectory: stateDirectory, controller: controller, validity: validity)
        try await self.store.recordCertificate(for: name, serial: certificate.serialHex, notAfter: certificate.notValidAfter, enrolment: true, at: Date())
        return certificate
    }

    /// `tern-agent` in the folder this program runs from.
    static func siblingAgent() -> String {
        URL(fileURLWithPath: CommandLine.arguments.first ?? "tern-controller").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("tern-agent").path
    }

    /// HOST:PORT from `address`, which may lack the port.
    static func installAddress(_ address: String, port: Int) -> String {
        if (try? HostPort.parse(address)) != nil { return address }
        return address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    public func run(logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: self.services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
