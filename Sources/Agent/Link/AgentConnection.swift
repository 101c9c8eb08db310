import Crypto
import Foundation
import Logging
import NIOCore
import Platform
import ServiceLifecycle
import Wire
import X509

/// One connection's life on the agent: wait for WELCOME, send the host's state,
/// heartbeat every negotiated interval, renew the certificate when it is due.
struct AgentConnection {
    enum Outcome {
        /// The connection ended; reconnect.
        case lost
        /// Shutdown was requested; stop.
        case shutdown
    }

    let connection: NIOAsyncChannel<TransferEvent, WireCommand>
    let identity: AgentIdentity
    let configuration: AgentConfiguration
    let reporter: HostReporter
    let transfers: Transfers
    let outbox: Outbox
    let deployer: Deployer
    let backups: SiteBackups
    let status: LinkStatus
    let logger: Logger

    func run() async throws -> Outcome {
        try await self.connection.executeThenClose { events, commands in
            try await withThrowingTaskGroup(of: Outcome.self) { group in
                let (intervals, intervalContinuation) = AsyncStream<TimeAmount>.makeStream()
                // Answers to the controller's transfer requests, written by a task of their own:
                // the reader must go on reading (window updates, more requests) while a write
                // waits for the link to drain.
                let (answers, answerContinuation) = AsyncStream<WireCommand>.makeStream()
                let renewal = PendingRenewal()
                group.addTask {
                    defer {
                        intervalContinuation.finish()
                        answerContinuation.finish()
                    }
                    for try await event in events {
                        switch event {
                        case .wire(let event):
                            if let outcome = try await self.handle(
                                event, commands: commands, renewal: renewal, intervals: intervalContinuation, answers: answerContinuation
                            ) {
                                return outcome
                            }
                        case .transferEnded(let stream, let digest, let result):
                            do {
                                if try await self.transfers.ended(stream, digest, result) != nil, let recovered = await self.transfers.storageRecovered() {
                                    await self.outbox.send(.alarmClear(StorageAlarm.clear(recovered, host: self.identity.name)))
                                }
                            } catch {
                                self.logger.error("transfer rejected", metadata: ["object": "\(digest)", "error": "\(error)"])
                            }
                        case .transferFailed(let stream, let digest, let error):
                            if let failure = await self.transfers.failed(stream, digest, error) {
                                // The site's disk, not the link: this transfer stops, the connection stays.
                                self.logger.error("transfer cannot be stored", metadata: ["stream": "\(stream)", "error": "\(failure)"])
                                await self.outbox.send(.alarmRaise(StorageAlarm.raise(failure, host: self.identity.name)))
                                await self.deployer.storageFailed(failure.digest, detail: failure.description)
                            } else {
                                self.logger.warning("transfer failed", metadata: ["stream": "\(stream)", "error": "\(error)"])
                            }
                        }
                    }
                    return .lost
                }
                group.addTask {
                    // Reports start once WELCOME has said how often.
                    for await interval in intervals {
                        for message in await self.reporter.connected(at: Date()) {
                            try await commands.write(.message(message))
                        }
                        await self.deployer.connected()
                        var sequence: UInt64 = 0
                        let period = self.configuration.heartbeatInterval.map { min($0, .nanoseconds(interval.nanoseconds)) } ?? .nanoseconds(interval.nanoseconds)
                        // The first beat at a random point of the period: agents that
                        // (re)connect together do not all beat in the same instant.
                        var wait = period * Double.random(in: 0.05...1)
                        while !Task.isCancelled {
                            try await Task.sleep(for: wait)
                            wait = period
                            sequence += 1
                            for message in await self.reporter.beat(sequence: sequence, at: Date()) {
                                try await commands.write(.message(message))
                            }
                            self.status.counters.heartbeat()
                            await self.deployer.checkDrift()
                            let (stalled, retry) = try await self.transfers.housekeeping()
                            for stream in stalled { try await commands.write(.reset(stream, .cancel)) }
                            for request in retry { try await commands.write(.openStream(.transferRequest(request))) }
                            if self.identity.needsRenewal(at: Date()), let key = await renewal.start(at: Date()) {
                                let csr = try CertificateRequest.make(for: key, requestedName: self.identity.name)
                                try await commands.write(.message(.renewRequest(RenewRequest(csr: csr))))
                            }
                        }
                    }
                    return .lost
                }
                group.addTask {
                    for await answer in answers { try await commands.write(answer) }
                    return .lost
                }
                group.addTask {
                    try await gracefulShutdown()
                    return .shutdown
                }
                let outcome = try await group.next() ?? .lost
                group.cancelAll()
                return outcome
            }
        }
    }

    /// One protocol event; returns an outcome when the connection is over.
    private func handle(
        _ event: WireEvent, commands: NIOAsyncChannelOutboundWriter<WireCommand>, renewal: PendingRenewal,
        intervals: AsyncStream<TimeAmount>.Continuation, answers: AsyncStream<WireCommand>.Continuation
    ) async throws -> Outcome? {
        switch event {
        case .established(let negotiated):
            self.logger.info("connected to controller", metadata: [
                "controller": "\(negotiated.peerIdentity)", "version": "\(negotiated.version)",
                "heartbeat_ms": "\(negotiated.heartbeatInterval.nanoseconds / 1_000_000)",
            ])
            await self.status.connected(negotiated, channel: self.connection.channel)
            await self.outbox.attach(commands)
            intervals.yield(negotiated.heartbeatInterval)
        case .goAway(let goAway):
            if goAway.code == .unauthorized {
                self.logger.error("the controller refuses this agent's identity", metadata: ["reason": "\(goAway.reason)"])
            } else {
                self.logger.info("controller sent GOAWAY; reconnecting later", metadata: ["code": "\(goAway.code)", "reason": "\(goAway.reason)"])
            }
            await self.status.refused(goAway)
            return .lost
        case .message(0, .renewResponse(let response), _):
            try await self.renewed(response, pending: renewal)
        case .message(0, .deploy(let deploy), _):
            await self.deployer.received(deploy)
        case .message(0, .configOffer(let offer), _):
            // Waits for the bundle's transfer: background work, off the reader.
            await self.deployer.offered(offer)
        case .message(0, .transferOffer(let offer), _):
            do {
                if let request = try await self.transfers.offered(offer) {
                    try await commands.write(.openStream(.transferRequest(request)))
                }
            } catch let error as AtomicFile.Failure {
                // A local file could not be made: this offer waits for the next one.
                self.logger.error("cannot prepare transfer", metadata: ["error": "\(error)"])
            }
        case .message(0, .backupRequest(let request), _):
            await self.backups.requested(request)
        case .message(0, .backupStored(let stored), _):
            await self.backups.stored(stored)
        case .message(let stream, .transferRequest(let request), _) where stream != 0:
            // The controller asks for an object of a backup (PROTOCOL.md §7.6).
            let compress = await self.status.negotiated?.features.contains(WireFeature.zlib) ?? false
            let source = if let digest = request.digest { await self.backups.source(for: digest, compress: compress) } else { ObjectSource?.none }
            answers.yield(request.answer(on: stream, from: source))
        case .streamOpened(let stream, .transferRequest(let request)):
            await self.transfers.opened(stream, request)
        case .message(let stream, .transferAbort(let abort), _) where stream != 0:
            self.logger.warning("transfer aborted by the controller", metadata: ["code": "\(abort.code)", "reason": "\(abort.reason)"])
            await self.transfers.abandoned(stream)
            if abort.code == .notFound, let digest = abort.digest {
                await self.transfers.unavailable(digest, reason: abort.reason)
            }
        case .streamReset(let stream, _):
            await self.transfers.abandoned(stream)
        case .roundTrip(let value):
            await self.status.roundTrip(value)
        default:
            break
        }
        return nil
    }

    /// A renewed certificate arrived: check it is for the key we asked with, then
    /// replace the identity on disk in one rename. It is used from the next connection.
    private func renewed(_ response: RenewResponse, pending: PendingRenewal) async throws {
        guard let key = await pending.finish() else { return }
        guard response.refusal.isEmpty else {
            // Tried again after the retry interval; the current certificate stays in use.
            self.logger.warning("certificate renewal refused", metadata: ["reason": "\(response.refusal)"])
            return
        }
        let certificate = try Certificate(derEncoded: response.certificate)
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey), certificate.subjectCommonName == self.identity.name else {
            self.logger.error("renewal returned a certificate for another key or name; keeping the current one")
            return
        }
        try AgentIdentity.store(key: key, certificate: certificate, stateDirectory: self.configuration.stateDirectory)
        self.logger.info("certificate renewed", metadata: ["not_after": "\(certificate.notValidAfter)"])
        await self.status.renewed()
    }
}

/// The key of a renewal in flight; a request unanswered for five minutes is retried.
actor PendingRenewal {
    private var key: P256.Signing.PrivateKey?
    private var startedAt: Date?

    func start(at now: Date) -> P256.Signing.PrivateKey? {
        if let startedAt, now.timeIntervalSince(startedAt) < 300 { return nil }
        let key = P256.Signing.PrivateKey()
        self.key = key
        self.startedAt = now
        return key
    }

    func finish() -> P256.Signing.PrivateKey? {
        defer { self.key = nil }
        return self.key
    }
}
