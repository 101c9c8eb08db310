import Crypto
import Foundation
import Logging
import NIOCore
import Platform
import ServiceLifecycle

/// Zero-touch installs, from `subcloud install` to `complete`:
///
/// 1. `install-preparing` — mint a one-time token, build the site's boot image.
/// 2. `installing` — Redfish: insert the image by URL, boot once from CD, power on.
/// 3. `bootstrapping` — the node boots, enrols with the seed and connects.
/// 4. `deploying` — push what the install values name through the content plane.
/// 5. `complete`, or `install-failed` / `deploy-failed` with the reason.
///
/// Steps 1–2 run as background work started by the request; steps 3–5 are moved
/// on by a sweep every second from what the store says, so a controller restart
/// picks them up where they were. An install cut in steps 1–2 by a restart fails
/// and says so (the BMC's state is unknown then): `subcloud install` retries.
public actor Installer: Service {
    public struct Settings: Sendable {
        /// HOST:PORT a node dials to enrol, unless the install values say otherwise.
        public var enrolAddress: String
        /// Where the BMC fetches images: `http://HOST:PORT` of the API listener (known once it listens).
        public var imageBaseURL: @Sendable () -> String
        public var caFingerprint: String
        public var dataDirectory: String
    }

    let store: any FleetStore
    let content: ContentPlane
    let builder: BootImageBuilder
    let secrets: BMCSecrets
    let settings: Settings
    let logger: Logger
    /// How often bootstrapping and deploying installs are looked at.
    let period: Duration

    init(store: any FleetStore, content: ContentPlane, builder: BootImageBuilder, settings: Settings, logger: Logger, period: Duration = .seconds(1)) {
        self.store = store
        self.content = content
        self.builder = builder
        self.secrets = BMCSecrets(dataDirectory: settings.dataDirectory)
        self.settings = settings
        self.logger = logger
        self.period = period
    }

    /// What `subcloud add` / `subcloud install` give; each part left out keeps what the last install had.
    public struct Request: Codable, Sendable {
        public var bmc: BMCCredentials?
        public var installValues: InstallValues?
    }

    public struct BMCCredentials: Codable, Sendable {
        public var address: String
        public var username: String
        public var password: String?
    }

    // MARK: Requests

    /// Records the BMC and values for a subcloud without installing (`subcloud add` without `--install`).
    func configure(_ name: String, _ request: Request, at now: Date) async throws {
        guard let bmc = request.bmc else { return }
        _ = try BMCAddress(parsing: bmc.address)
        if let password = bmc.password { try self.secrets.save(password, for: name) }
        var install = try await self.store.install(of: name) ?? Install(subcloud: name, values: request.installValues ?? InstallValues(),
                                                                           bmc: .init(address: bmc.address, username: bmc.username), attempt: 0, at: now)
        install.bmc = .init(address: bmc.address, username: bmc.username)
        if let values = request.installValues { install.values = values }
        if install.attempt == 0 {
            // Nothing ran yet: the subcloud waits to be installed.
            install.status = .awaitingEnrolment
            install.detail = "BMC recorded; run `subcloud install \(name)`"
            install.phases = []
        }
        try await self.store.saveInstall(install, event: "BMC \(bmc.address) recorded for zero-touch install", at: now)
    }

    /// Starts an install (or a retry of a failed or finished one).
    public func start(_ name: String, _ request: Request, at now: Date) async throws -> Install {
        guard try await self.store.subcloud(named: name) != nil else { throw FleetStoreError.notFound("no subcloud named \"\(name)\"") }
        let previous = try await self.store.install(of: name)
        if let previous, previous.status.isInstalling {
            throw FleetStoreError.conflict("an install of \(name) is in progress (\(previous.status.rawValue)); wait for it to end")
        }
        guard let values = request.installValues ?? previous?.values else {
            throw FleetStoreError.invalid("no install values for \(name): give --install-values")
        }
        if let problem = values.problem { throw FleetStoreError.invalid("install values: \(problem)") }
        guard let bmc = request.bmc.map({ Install.BMC(address: $0.address, username: $0.username) }) ?? previous?.bmc else {
            throw FleetStoreError.invalid("no BMC for \(name): give --bmc-address, --bmc-username and --bmc-password-file")
        }
        do { _ = try BMCAddress(parsing: bmc.address) } catch { throw FleetStoreError.invalid("\(error)") }
        if let password = request.bmc?.password { try self.secrets.save(password, for: name) }
        guard self.secrets.password(for: name) != nil else { throw FleetStoreError.invalid("no BMC password stored for \(name): give --bmc-password-file") }
        try await self.checkContent(values)

        let install = Install(subcloud: name, values: values, bmc: bmc, attempt: (previous?.attempt ?? 0) + 1, at: now)
        try await self.store.saveInstall(install, event: "install-preparing: attempt \(install.attempt), BMC \(bmc.address)", at: now)
        self.content.work.submit("install \(name)") { await self.prepareAndBoot(install) }
        return install
    }

    /// Everything the values name must be in the controller before anything boots.
    private func checkContent(_ values: InstallValues) async throws {
        if let software = values.software, try await self.store.release(kind: .ostree, name: software.name, version: software.version) == nil {
            throw FleetStoreError.invalid("install values name software \(software.name) \(software.version ?? "(newest)"), which was not imported")
        }
        for image in values.images where try await self.store.release(kind: .image, name: image.name, version: image.version) == nil {
            throw FleetStoreError.invalid("install values name image \(image.name) \(image.version ?? "(newest)"), which was not imported")
        }
    }

    /// Removes what an install keeps for a deleted subcloud.
    func forget(_ name: String) {
        self.secrets.remove(for: name)
        try? FileManager.default.removeItem(atPath: self.folder(name))
    }

    // MARK: Steps 1–2

    private func prepareAndBoot(_ started: Install) async {
        var install = started
        let name = install.subcloud
        do {
            let lifetime = Double(install.values.bootTimeoutSeconds + 600)
            let (token, record) = BootstrapToken.make(validFor: lifetime)
            try await self.store.replaceToken(for: name, with: record, at: Date())
            let seed = InstallSeed(
                site: name, controller: self.seedController(install.values), caFingerprint: self.settings.caFingerprint,
                token: token, tokenExpiresAt: record.expiresAt, prestaged: install.values.prestaged
            )
            let built = try await self.builder.build(seed: seed, values: install.values, into: self.folder(name))
            install.image = built
            let imageToken = Self.randomToken()
            try await self.store.setImageToken(imageToken, for: name)
            let url = "\(self.settings.imageBaseURL())/boot/\(imageToken).iso"
            install.move(to: .installing, detail: "boot image \(built.size >> 20) MiB; virtual media insert, boot once from CD, power on", at: Date())
            try await self.store.saveInstall(install, event: "installing: boot image built (\(built.size) bytes in \(String(format: "%.1f", built.seconds)) s); telling the BMC to boot it", at: Date())

            let boot = try self.redfish(install)
            let (system, _) = try await boot.boot(imageURL: url, mode: install.values.boot.mode)
            try await boot.waitForPowerOn(system: system)
            install = try await self.store.install(of: name) ?? install
            install.move(to: .bootstrapping, detail: "powered on from the boot image; waiting for the node to enrol and connect", at: Date())
            try await self.store.saveInstall(install, event: "bootstrapping: the BMC reports \(system) on", at: Date())
        } catch {
            install = (try? await self.store.install(of: name)) ?? install
            install.move(to: .installFailed, detail: "\(error)", at: Date())
            try? await self.store.setImageToken(nil, for: name)
            try? await self.store.saveInstall(install, event: "install-failed: \(error)", at: Date())
            self.logger.warning("install failed", metadata: ["subcloud": "\(name)", "error": "\(error)"])
        }
    }

    private func redfish(_ install: Install) throws -> RedfishBoot {
        guard let password = self.secrets.password(for: install.subcloud) else { throw RedfishError(.invalid, "no BMC password stored for \(install.subcloud)") }
        let client = RedfishClient(address: try BMCAddress(parsing: install.bmc.address), username: install.bmc.username, password: password,
                                   insecureTLS: install.values.bmcInsecureTLS)
        return RedfishBoot(client: client)
    }

    private func seedController(_ values: InstallValues) -> String {
        guard let address = values.controllerAddress else { return self.settings.enrolAddress }
        let port = self.settings.enrolAddress.split(separator: ":").last.flatMap { Int($0) } ?? 7448
        return ControllerApp.installAddress(address, port: port)
    }

    private func folder(_ name: String) -> String { "\(self.settings.dataDirectory)/install/\(name)" }

    static func randomToken() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
    }

    // MARK: Steps 3–5

    public func run() async throws {
        await self.failInterrupted()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await self.sweep(now: Date())
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: self.period) }
            } catch {
                return
            }
        }
    }

    /// Installs cut in steps 1–2 by a restart: the BMC may be anywhere; say so.
    private func failInterrupted() async {
        for var install in (try? await self.store.installs()) ?? [] where install.status == .installPreparing || install.status == .installing {
            install.move(to: .installFailed, detail: "the controller restarted during \(install.status.rawValue); run `subcloud install \(install.subcloud)` again", at: Date())
            try? await self.store.setImageToken(nil, for: install.subcloud)
            try? await self.store.saveInstall(install, event: "install-failed: \(install.detail)", at: Date())
        }
    }

    func sweep(now: Date) async {
        do {
            for install in try await self.store.installs() {
                switch install.status {
                case .bootstrapping: try await self.bootstrapping(install, now: now)
                case .deploying: try await self.deploying(install, now: now)
                default: continue
                }
            }
        } catch {
            self.logger.error("install sweep failed", metadata: ["error": "\(error)"])
        }
    }

    private func bootstrapping(_ install: Install, now: Date) async throws {
        var install = install
        guard let subcloud = try await self.store.subcloud(named: install.subcloud) else { return }
        let enrolled = subcloud.enrolledAt.map { $0 >= install.startedAt } ?? false
        if enrolled, subcloud.availability == .online {
            install.move(to: .deploying, detail: "connected; pushing content", at: now)
            try await self.store.saveInstall(install, event: "deploying: \(install.subcloud) enrolled and connected", at: now)
            try await self.push(&install, now: now)
            return
        }
        let limit = Double(install.values.bootTimeoutSeconds)
        if now.timeIntervalSince(install.phaseStartedAt) > limit {
            install.move(to: .installFailed, detail: "install timeout: the node did not \(enrolled ? "connect" : "enrol") within \(Int(limit)) s of power-on", at: now)
            try await self.store.setImageToken(nil, for: install.subcloud)
            try await self.store.saveInstall(install, event: "install-failed: \(install.detail)", at: now)
        }
    }

    /// Creates the config generation and deployments the values name.
    private func push(_ install: inout Install, now: Date) async throws {
        let name = install.subcloud
        do {
            let files = install.values.configFiles
            if !files.isEmpty {
                install.configGeneration = try await self.content.setConfig(on: [name], files: files, reload: install.values.config?.reload, at: now).first?.generation
            }
            var made: [Deployment] = []
            if let software = install.values.software {
                made += try await self.content.deploy(kind: .ostree, name: software.name, version: software.version, on: [name], activate: true, at: now)
            }
            for image in install.values.images {
                made += try await self.content.deploy(kind: .image, name: image.name, version: image.version, on: [name], activate: true, at: now)
            }
            install.deployments = made.map(\.id)
            install.detail = "pushing \(made.count) deployment(s)\(install.configGeneration.map { " and config generation \($0)" } ?? "")"
            try await self.store.saveInstall(install, event: nil, at: now)
        } catch {
            install.move(to: .deployFailed, detail: "could not start deploying: \(error)", at: now)
            try await self.store.saveInstall(install, event: "deploy-failed: \(install.detail)", at: now)
        }
    }

    private func deploying(_ install: Install, now: Date) async throws {
        var install = install
        let deployments = try await self.store.deployments(ids: install.deployments).values.sorted { $0.id < $1.id }
        let config = try await self.store.configState(for: install.subcloud)
        switch InstallProgress.evaluate(deployments: deployments, wantedConfig: install.configGeneration, config: config, since: install.phaseStartedAt) {
        case .complete:
            install.move(to: .complete, detail: "every area the install values name is in sync", at: now)
            try await self.store.setImageToken(nil, for: install.subcloud)
            try await self.store.saveInstall(install, event: "complete: \(deployments.count) deployment(s)\(install.configGeneration.map { ", config generation \($0)" } ?? "") in sync", at: now)
            let finished = install
            self.content.work.submit("eject boot media of \(install.subcloud)") { await self.eject(finished) }
        case .failed(let step):
            install.move(to: .deployFailed, detail: step, at: now)
            try await self.store.saveInstall(install, event: "deploy-failed: \(step)", at: now)
        case .waiting(let what):
            if now.timeIntervalSince(install.phaseStartedAt) > Double(install.values.deployTimeoutSeconds) {
                install.move(to: .deployFailed, detail: "deploy timeout after \(install.values.deployTimeoutSeconds) s; still waiting for \(what)", at: now)
                try await self.store.saveInstall(install, event: "deploy-failed: \(install.detail)", at: now)
            } else if install.detail != "waiting for " + what {
                install.detail = "waiting for " + what
                try await self.store.saveInstall(install, event: nil, at: now)
            }
        }
    }

    private func eject(_ install: Install) async {
        do {
            try await self.redfish(install).eject()
            try await self.store.recordEvent(subcloud: install.subcloud, kind: "install", detail: "boot media ejected", at: Date())
        } catch {
            self.logger.warning("could not eject the boot media", metadata: ["subcloud": "\(install.subcloud)", "error": "\(error)"])
            try? await self.store.recordEvent(subcloud: install.subcloud, kind: "install", detail: "could not eject the boot media: \(error)", at: Date())
        }
    }
}
