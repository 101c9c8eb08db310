import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Platform
import Wire
import X509

/// The controller's side of one agent connection: admits it against the registry,
/// records what the agent reports, and renews its certificate.
///
/// No task of its own: `AgentSessionHandler` hands it each event on the connection's
/// event loop; heartbeats and health are handled right there (no hop, no task, no
/// allocation beyond the merge), everything needing the store or an actor is queued
/// (`SessionQueue`) and taken in order by a task that lives only while something is
/// queued (`SessionWork`). An idle agent costs this object, its handler and the
/// connection's own state.
final class AgentSession: Sendable {
    let link: AgentLink
    let server: Server
    private let queue = NIOLockedValueBox(SessionQueue())

    /// What every session of one protocol port shares.
    final class Server: Sendable {
        let parts: Parts
        let work: SessionWork
        let open: OpenConnections

        init(parts: Parts, work: SessionWork, open: OpenConnections) {
            self.parts = parts
            self.work = work
            self.open = open
        }
    }

    /// What a session uses, and nothing else.
    struct Parts: Sendable {
        let store: any SubcloudStore & PKIStore & AlarmStore
        let live: LiveFleet
        let healthBook: HealthBook
        let content: ContentPlane
        let objects: ObjectStore
        let backups: Backups
        /// Signs renewed certificates.
        let authority: CertificateAuthority
        let certificateValidity: TimeAmount
        /// How long agents get to leave after GOAWAY at shutdown.
        let drainTimeout: TimeAmount
        let metrics: ControllerMetrics
        let logger: Logger
    }
    /// An agent let in past the handshake.
    struct Admission {
        var name: String
        var generation: Int
        /// Whether it accepts zlib blocks (negotiated).
        var compress: Bool
        /// Serial of the certificate this connection presented.
        var serial: String?
    }

    /// Why this side ended a connection on purpose: not a failure, and not cancellation.
    enum Ended: Error {
        /// Admission refused, or the subcloud was deleted: GOAWAY UNAUTHORIZED was sent.
        case refused(String)
    }

    init(channel: any Channel, server: Server) {
        self.link = AgentLink(channel: channel)
        self.server = server
    }

    private var parts: Parts { self.server.parts }

    // MARK: From the event loop

    /// An event from the connection, on its event loop. Returns true when reading must
    /// pause until the queue drains (`SessionQueue.pauseAt`).
    func received(_ event: TransferEvent) -> Bool {
        if case .wire(.message(0, let message, _)) = event,
           let admission = self.queue.withLockedValue({ $0.admittedAndIdle }),
           self.handleAtOnce(message, from: admission.name) {
            return false
        }
        return self.enqueue(.event(event))
    }

    /// The connection failed (TLS, transport), on its event loop; it is being closed.
    func failed(_ error: any Error) {
        let admitted = self.queue.withLockedValue { $0.admission }
        if admitted == nil { self.parts.metrics.handshakeFailures.increment() }
        self.parts.logger.info("connection ended", metadata: ["error": "\(error)"])
    }

    /// The connection closed, on its event loop: the queue's last item.
    func closed() {
        _ = self.enqueue(.closed)
    }

    private func enqueue(_ item: SessionQueue.Item) -> Bool {
        let enqueued = self.queue.withLockedValue { $0.enqueue(item) }
        if enqueued.start {
            self.server.work.submit(key: ObjectIdentifier(self).hashValue) { await self.drain() }
        }
        return enqueued.pause
    }

    /// Heartbeats and health reports, where they arrive: false for anything else (and
    /// for a revoked subcloud, whose refusal goes through the queue).
    private func handleAtOnce(_ message: Message, from name: String) -> Bool {
        let now = Date()
        switch message {
        case .heartbeat(let heartbeat) where !self.parts.live.isRevoked(name):
            self.parts.live.heard(name, at: now, heartbeat: true)
            self.parts.metrics.heartbeats.increment()
            // Health goes to the store in batches (`HealthFlush`).
            if let health = heartbeat.health { self.parts.healthBook.merge(health, for: name, at: now) }
            return true
        case .healthReport(let health) where !self.parts.live.isRevoked(name):
            self.parts.live.heard(name, at: now, heartbeat: false)
            self.parts.healthBook.merge(health, for: name, at: now)
            return true
        default:
            return false
        }
    }

    // MARK: The queue's task

    /// Takes queued items in order until none is left. Errors end this connection only.
    private func drain() async {
        while true {
            let (item, resume) = self.queue.withLockedValue { $0.next() }
            if resume { self.link.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in } }
            switch item {
            case nil:
                return
            case .event(let event):
                await self.process(event)
            case .closed:
                await self.disconnected()
            }
        }
    }

    private func process(_ event: TransferEvent) async {
        let admitted = self.queue.withLockedValue { $0.admission }
        do {
            switch event {
            case .wire(let event):
                if let admission = try await self.handle(event, admitted: admitted) {
                    self.queue.withLockedValue { $0.admission = admission }
                }
            case .transferEnded(let stream, let digest, let result):
                if let name = admitted?.name { await self.parts.backups.ended(stream, digest, result, site: name) }
            case .transferFailed(let stream, let digest, let error):
                if let name = admitted?.name { await self.parts.backups.failed(stream, digest, error, site: name) }
            }
        } catch {
            self.end(admitted: admitted, error)
        }
    }

    /// Ends the connection after `error`; what is still queued is dropped.
    private func end(admitted: Admission?, _ error: any Error) {
        switch error {
        case Ended.refused:
            break  // Logged where the refusal was decided; the GOAWAY told the agent why.
        case is CancellationError:
            self.parts.logger.debug("connection closed at shutdown")
        default:
            if admitted == nil { self.parts.metrics.handshakeFailures.increment() }
            self.parts.logger.info("connection ended", metadata: ["error": "\(error)"])
        }
        self.queue.withLockedValue { $0.end() }
        self.link.channel.close(promise: nil)
    }

    private func disconnected() async {
        self.server.open.closed(self.link.channel)
        guard let admission = self.queue.withLockedValue({ $0.admission }) else { return }
        let name = admission.name
        if await self.parts.live.isCurrent(name, generation: admission.generation) { await self.parts.backups.disconnected(name) }
        await self.parts.live.disconnected(name, generation: admission.generation)
        self.parts.metrics.agentsConnected.set(Double(await self.parts.live.count))
        self.parts.logger.info("agent disconnected", metadata: ["subcloud": "\(name)"])
    }

    /// Handles one event; returns the admission when the handshake completes.
    private func handle(_ event: WireEvent, admitted: Admission?) async throws -> Admission? {
        let now = Date()
        switch event {
        case .established(let negotiated):
            return try await self.admit(negotiated, now: now)
        case .message(_, let message, _):
            guard let name = admitted?.name else { return nil }
            // Both without an actor hop: this runs for every message of every agent.
            if self.parts.live.isRevoked(name) {
                let reason = "subcloud \(name) was deleted; its certificate is revoked"
                self.parts.logger.warning("closing connection of a deleted subcloud", metadata: ["subcloud": "\(name)"])
                try await self.link.write(.goAway(.unauthorized, reason: reason))
                throw Ended.refused(reason)
            }
            self.parts.live.heard(name, at: now, heartbeat: { if case .heartbeat = message { return true } else { return false } }())
            if case .transferRequest(let request) = message, case .message(let stream, _, _) = event {
                try await self.serve(request, on: stream, compress: admitted!.compress)
            } else if case .transferAbort(let abort) = message, case .message(let stream, _, _) = event, stream != 0 {
                await self.parts.backups.abandoned(stream, abort: abort, site: name)
            } else {
                try await self.record(message, from: name, serial: admitted?.serial, now: now)
            }
        case .streamOpened(let stream, .transferRequest(let request)):
            if let name = admitted?.name { await self.parts.backups.opened(stream, request, site: name) }
        case .streamReset(let stream, _):
            if let name = admitted?.name { await self.parts.backups.abandoned(stream, abort: nil, site: name) }
        case .roundTrip(let value):
            if let name = admitted?.name { await self.parts.live.roundTrip(name, value) }
        case .goAway(let goAway):
            self.parts.logger.info("agent going away", metadata: ["code": "\(goAway.code)", "reason": "\(goAway.reason)"])
        default:
            break
        }
        return nil
    }

    /// PROTOCOL.md §5.1: only enrolled, unrevoked subclouds get past the handshake.
    private func admit(_ negotiated: Negotiated, now: Date) async throws -> Admission? {
        let name = negotiated.peerIdentity
        let store = self.parts.store
        // Fail closed: no serial (no usable client certificate) is no admission.
        let refusal: String? = if let serial = negotiated.peerCertificateSerial {
            try await store.admit(serial: serial, name: name, at: now)
        } else {
            "the connection presented no usable client certificate"
        }
        if let refusal {
            self.parts.metrics.handshakeFailures.increment()
            self.parts.logger.warning("refusing agent", metadata: ["subcloud": "\(name)", "reason": "\(refusal)"])
            try await self.link.write(.goAway(.unauthorized, reason: refusal))
            throw Ended.refused(refusal)
        }
        let (generation, replaced) = await self.parts.live.connected(negotiated, at: now, link: self.link)
        if let replaced {
            self.parts.logger.notice("a newer connection replaces the current one", metadata: ["subcloud": "\(name)"])
            try? await replaced.write(.goAway(.connectionReplaced, reason: "replaced by a newer connection of \(name)"))
        }
        self.parts.metrics.agentsConnected.set(Double(await self.parts.live.count))
        try await store.markOnline(name, software: negotiated.peerSoftware, at: now)
        try await store.clear(subcloud: name, alarmID: FleetAlarms.offlineID, entity: FleetAlarms.offlineEntity(name), at: now)
        for offer in await self.parts.live.wantedOffers(for: name) {
            try await self.link.write(.message(.transferOffer(offer)))
        }
        // Desired content goes out as background work: an OSTree delta may take a while to generate.
        let content = self.parts.content
        content.work.submit("desired content for \(name)") { await content.connected(name) }
        let backups = self.parts.backups
        content.work.submit("backups of \(name)") { await backups.connected(name) }
        self.parts.logger.info("agent connected", metadata: [
            "subcloud": "\(name)", "software": "\(negotiated.peerSoftware)",
            "version": "\(negotiated.version)", "features": "\(negotiated.features.sorted())",
        ])
        return Admission(name: name, generation: generation, compress: negotiated.features.contains(WireFeature.zlib), serial: negotiated.peerCertificateSerial)
    }

    /// PROTOCOL.md §7.4: stream the requested blocks from the object store, or say why not.
    private func serve(_ request: TransferRequest, on stream: StreamID, compress: Bool) async throws {
        let source = request.digest.flatMap { self.parts.objects.source(for: $0, compress: compress) }
        try await self.link.write(request.answer(on: stream, from: source))
    }

    private func record(_ message: Message, from name: String, serial: String?, now: Date) async throws {
        let store = self.parts.store
        switch message {
        case .heartbeat(let heartbeat):
            self.parts.metrics.heartbeats.increment()
            self.parts.logger.debug("heartbeat", metadata: ["subcloud": "\(name)", "sequence": "\(heartbeat.sequence)"])
            // Health goes to the store in batches (`HealthFlush`).
            if let health = heartbeat.health { self.parts.healthBook.merge(health, for: name, at: now) }
        case .healthReport(let health):
            self.parts.healthBook.merge(health, for: name, at: now)
        case .firmwareInventory(let inventory):
            try await store.recordFirmware(name, inventory.components.map {
                Subcloud.Firmware(kind: $0.kind, name: $0.name, vendor: $0.vendor, version: $0.version, releaseDate: $0.releaseDate)
            })
        case .alarmRaise(let raise):
            try await store.raise(Alarm(
                subcloud: name, alarmID: raise.alarmID, entity: raise.entity, severity: raise.severity.description,
                reason: raise.reason, probableCause: raise.probableCause, repairAction: raise.repairAction,
                serviceAffecting: raise.serviceAffecting, raisedAt: raise.raisedAtMillis > 0 ? Date(timeIntervalSince1970: Double(raise.raisedAtMillis) / 1000) : now
            ))
        case .alarmClear(let clear):
            try await store.clear(subcloud: name, alarmID: clear.alarmID, entity: clear.entity, at: now)
        case .configResult(let result):
            try await self.parts.content.received(result, from: name, at: now)
        case .deployStatus(let status):
            try await self.parts.content.received(status, from: name, at: now)
        case .backupStatus(let status):
            try await self.parts.backups.received(status, from: name)
        case .renewRequest(let request):
            try await self.renew(request, for: name, serial: serial, now: now)
        default:
            break
        }
    }

    /// Certificate renewal over the mutual-TLS channel (PROTOCOL.md §10.18): honoured
    /// only for the certificate this connection presented, in the last third of its
    /// validity. A refusal is answered with its reason, so the agent can say why.
    private func renew(_ request: RenewRequest, for name: String, serial: String?, now: Date) async throws {
        let store = self.parts.store
        let refusal: String?
        if let serial, let current = try await store.issuedCertificate(serial: serial) {
            refusal = current.renewable(at: now) ? nil
                : "renewal opens at \(ISO8601DateFormatter().string(from: current.renewableFrom)), the last third of certificate \(serial)'s validity"
        } else {
            refusal = "the connection's certificate is not on record"
        }
        if let refusal {
            self.parts.logger.warning("renewal refused", metadata: ["subcloud": "\(name)", "reason": "\(refusal)"])
            try await store.recordEvent(subcloud: name, kind: "renewal-refused", detail: refusal, at: now)
            try await self.link.write(.message(.renewResponse(RenewResponse(certificate: [], notAfterMillis: 0, refusal: refusal))))
            return
        }
        let validity = Double(self.parts.certificateValidity.nanoseconds) / 1e9
        do {
            let (certificate, der) = try self.parts.authority.sign(csr: request.csr, name: name, now: now, validity: validity)
            try await store.recordCertificate(IssuedCertificate(
                serial: certificate.serialHex, subcloud: name, notBefore: certificate.notValidBefore, notAfter: certificate.notValidAfter
            ), enrolment: false, at: now)
            try await self.link.write(.message(.renewResponse(RenewResponse(
                certificate: der, notAfterMillis: UInt64(certificate.notValidAfter.timeIntervalSince1970 * 1000)
            ))))
            self.parts.logger.info("certificate renewed", metadata: ["subcloud": "\(name)", "serial": "\(certificate.serialHex)"])
        } catch let rejected as CertificateRequest.Rejected {
            self.parts.logger.warning("renewal refused", metadata: ["subcloud": "\(name)", "reason": "\(rejected)"])
            try await self.link.write(.message(.renewResponse(RenewResponse(certificate: [], notAfterMillis: 0, refusal: rejected.description))))
        }
    }
}
