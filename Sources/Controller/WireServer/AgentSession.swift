import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Platform
import Wire

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

    var parts: Parts { self.server.parts }

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
        guard message.isLiveness, !self.parts.live.isRevoked(name) else { return false }
        let now = Date()
        self.parts.live.heard(name, at: now, heartbeat: message.isHeartbeat)
        self.noteLiveness(message, from: name, at: now)
        return true
    }

    /// What a heartbeat or a health report does wherever it is handled (in place, or in
    /// its turn in the queue): counted, and its health merged into the book, which
    /// `HealthFlush` writes to the store in batches.
    func noteLiveness(_ message: Message, from name: String, at now: Date) {
        switch message {
        case .heartbeat(let heartbeat):
            self.parts.metrics.heartbeats.increment()
            self.parts.logger.debug("heartbeat", metadata: ["subcloud": "\(name)", "sequence": "\(heartbeat.sequence)"])
            if let health = heartbeat.health { self.parts.healthBook.merge(health, for: name, at: now) }
        case .healthReport(let health):
            self.parts.healthBook.merge(health, for: name, at: now)
        default:
            break
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
}

extension Message {
    /// A heartbeat or a health report: what keeps a site's liveness and health current.
    var isLiveness: Bool {
        switch self {
        case .heartbeat, .healthReport: true
        default: false
        }
    }

    var isHeartbeat: Bool {
        if case .heartbeat = self { true } else { false }
    }
}
