import Foundation

/// When an online subcloud becomes offline, as a pure decision (issue 7, items 15
/// and 16). Three cases, each with its own clock:
/// - connected, but silent: the heartbeat rule (`offlineAfter` of silence);
/// - its connection closed while this controller ran: a short `disconnectGrace`, so
///   a site that dies is noticed in seconds and a quick reconnect does not flap;
/// - not seen since this controller started (a restart or a crash): `startupGrace`,
///   at least the agents' reconnect backoff cap, so an outage of the controller never
///   makes healthy sites look offline while they wait to retry.
struct OfflineRule: Sendable {
    var offlineAfter: TimeInterval
    var disconnectGrace: TimeInterval
    var startupGrace: TimeInterval
    var startedAt: Date

    enum Verdict: Equatable {
        case online
        case offline(reason: String, silentFor: Int)
    }

    /// With replicas, for a site no replica here judges (the lease holder's sweep): the
    /// last time any replica recorded it, written every `seenPeriod` while connected.
    func sharedVerdict(lastSeen: Date?, seenPeriod: TimeInterval, now: Date) -> Verdict {
        if let lastSeen, lastSeen > self.startedAt {
            let silence = now.timeIntervalSince(lastSeen)
            return silence > self.offlineAfter + seenPeriod
                ? .offline(reason: "no replica has heard from it for \(Int(silence)) s", silentFor: Int(silence)) : .online
        }
        return self.verdict(connected: false, lastHeard: nil, disconnectedAt: nil, now: now)
    }

    func verdict(connected: Bool, lastHeard: Date?, disconnectedAt: Date?, now: Date) -> Verdict {
        if connected {
            let silence = now.timeIntervalSince(max(lastHeard ?? self.startedAt, self.startedAt))
            return silence > self.offlineAfter ? .offline(reason: "no heartbeat for \(Int(silence)) s", silentFor: Int(silence)) : .online
        }
        if let disconnectedAt {
            let gone = now.timeIntervalSince(disconnectedAt)
            // Never slower than silence would be: a closed connection is at least as telling.
            return gone > min(self.disconnectGrace, self.offlineAfter) ? .offline(reason: "connection lost \(Int(gone)) s ago", silentFor: Int(gone)) : .online
        }
        let waited = now.timeIntervalSince(self.startedAt)
        return waited > max(self.startupGrace, self.offlineAfter)
            ? .offline(reason: "not reconnected in the \(Int(waited)) s since the controller started", silentFor: Int(waited))
            : .online
    }
}
