import Foundation
import Testing
@testable import Controller

/// When a subcloud becomes offline (issue 7, items 15 and 16), as a pure decision.
@Suite struct OfflineRuleTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)
    /// The demo's settings: heartbeat 5 s, 3 missed; agents back off up to 60 s.
    static let rule = OfflineRule(offlineAfter: 15, disconnectGrace: 10, startupGrace: 75, startedAt: start)

    func at(_ seconds: TimeInterval) -> Date { Self.start.addingTimeInterval(seconds) }

    @Test("after a controller start, a subcloud not back yet stays online for the whole startup grace, then goes offline with the reason")
    func startupGrace() {
        for waited in stride(from: 0.0, through: 75, by: 5) {
            #expect(Self.rule.verdict(connected: false, lastHeard: nil, disconnectedAt: nil, now: at(waited)) == .online, "\(waited) s")
        }
        guard case .offline(let reason, _) = Self.rule.verdict(connected: false, lastHeard: nil, disconnectedAt: nil, now: at(76)) else {
            Issue.record("never offline")
            return
        }
        #expect(reason.contains("since the controller started"))
    }

    @Test("a closed connection is offline after the disconnect grace, not after the heartbeat rule; a quick reconnect does not flap")
    func disconnect() {
        let dropped = at(200)
        #expect(Self.rule.verdict(connected: false, lastHeard: at(199), disconnectedAt: dropped, now: at(209)) == .online)
        guard case .offline(let reason, _) = Self.rule.verdict(connected: false, lastHeard: at(199), disconnectedAt: dropped, now: at(211)) else {
            Issue.record("a dead site was not noticed")
            return
        }
        #expect(reason.contains("connection lost"))
        // Reconnected within the grace: the connection rule applies again.
        #expect(Self.rule.verdict(connected: true, lastHeard: at(205), disconnectedAt: nil, now: at(211)) == .online)
        // With a heartbeat rule shorter than the grace, the shorter one holds.
        let fast = OfflineRule(offlineAfter: 2, disconnectGrace: 10, startupGrace: 75, startedAt: Self.start)
        #expect(fast.verdict(connected: false, lastHeard: at(199), disconnectedAt: dropped, now: at(203)) != .online)
    }

    @Test("an open but silent connection keeps the heartbeat rule")
    func silence() {
        #expect(Self.rule.verdict(connected: true, lastHeard: at(100), disconnectedAt: nil, now: at(114)) == .online)
        #expect(Self.rule.verdict(connected: true, lastHeard: at(100), disconnectedAt: nil, now: at(116)) != .online)
    }
}
