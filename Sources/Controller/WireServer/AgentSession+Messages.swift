import Foundation
import Logging
import NIOCore
import Platform
import Wire
import X509

/// What a session does with each message, once it is its turn in the queue: admission
/// at the handshake, reports to the store, transfers served, certificates renewed.
extension AgentSession {
    /// Handles one event; returns the admission when the handshake completes.
    func handle(_ event: WireEvent, admitted: Admission?) async throws -> Admission? {
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
            self.parts.live.heard(name, at: now, heartbeat: message.isHeartbeat)
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
        case .heartbeat, .healthReport:
            self.noteLiveness(message, from: name, at: now)
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
