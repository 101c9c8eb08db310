import Foundation
import Testing
import Wire
@testable import Controller

/// The strategy rules without a store or a clock.
@Suite struct StrategyMachineTests {
    static let now = Date(timeIntervalSince1970: 1_000_000)

    static func strategy(_ type: StrategyType = .firmware, _ settings: StrategySettings = StrategySettings(), state: StrategyState = .applying) -> Strategy {
        var strategy = Strategy(type: type, content: StrategyContent(kind: .firmware, name: "bios", version: "2.0"), settings: settings, targets: "all", createdAt: now)
        strategy.state = state
        return strategy
    }

    static func steps(_ count: Int, window: Int, stage: Int = 0, group: String = "Default") -> [StrategyStep] {
        (0..<count).map { StrategyStep(subcloud: String(format: "\(group)-%02d", $0), group: group, stage: stage, window: window) }
    }

    static func facts(_ steps: [StrategyStep], _ change: (String, inout SiteFacts) -> Void = { _, _ in }) -> [String: SiteFacts] {
        var facts: [String: SiteFacts] = [:]
        for step in steps {
            var site = SiteFacts()
            site.installedVersion = "1.0"
            change(step.subcloud, &site)
            facts[step.subcloud] = site
        }
        return facts
    }

    static func apply(_ decisions: [StrategyDecision], to steps: inout [StrategyStep], at now: Date = now) {
        for decision in decisions {
            switch decision {
            case .start(let name):
                let index = steps.firstIndex { $0.subcloud == name }!
                steps[index].state = .applying
                steps[index].startedAt = now
            case .step(let name, let state, let detail):
                let index = steps.firstIndex { $0.subcloud == name }!
                steps[index].state = state
                steps[index].detail = detail
            case .finish:
                break
            }
        }
    }

    static func starts(_ decisions: [StrategyDecision]) -> [String] {
        decisions.compactMap { if case .start(let name) = $0 { return name } else { return nil } }
    }

    @Test("a window of N starts N steps and the rest wait; a new one starts as soon as one ends")
    func slidingWindow() {
        var steps = Self.steps(10, window: 3)
        let first = StrategyMachine.decide(Self.strategy(), steps, facts: Self.facts(steps), now: Self.now)
        #expect(Self.starts(first) == ["Default-00", "Default-01", "Default-02"])
        Self.apply(first, to: &steps)
        #expect(steps.filter { $0.state == .waiting }.count == 7)
        // Nothing changed: nothing more starts.
        #expect(Self.starts(StrategyMachine.decide(Self.strategy(), steps, facts: Self.facts(steps), now: Self.now)).isEmpty)
        // One site reports the target version: its step completes and the next starts, in the same round.
        let facts = Self.facts(steps) { name, site in if name == "Default-01" { site.installedVersion = "2.0" } }
        let second = StrategyMachine.decide(Self.strategy(), steps, facts: facts, now: Self.now)
        #expect(second.contains(.step("Default-01", .complete, detail: "running 2.0")))
        #expect(Self.starts(second) == ["Default-03"])
    }

    @Test("serial: one at a time; groups run one after another")
    func serialAndStages() {
        var steps = Self.steps(2, window: 1, stage: 0, group: "a") + Self.steps(2, window: 5, stage: 1, group: "b")
        let first = StrategyMachine.decide(Self.strategy(), steps, facts: Self.facts(steps), now: Self.now)
        #expect(Self.starts(first) == ["a-00"])
        Self.apply(first, to: &steps)
        let done = Self.facts(steps) { name, site in if name == "a-00" { site.installedVersion = "2.0" } }
        let second = StrategyMachine.decide(Self.strategy(), steps, facts: done, now: Self.now)
        #expect(Self.starts(second) == ["a-01"], "group b waits for group a")
        Self.apply(second, to: &steps)
        let allA = Self.facts(steps) { name, site in if name.hasPrefix("a-") { site.installedVersion = "2.0" } }
        let third = StrategyMachine.decide(Self.strategy(), steps, facts: allA, now: Self.now)
        #expect(Self.starts(third) == ["b-00", "b-01"])
    }

    @Test("stop on failure: no new step starts, the waiting ones are aborted, the strategy fails naming the site")
    func stopOnFailure() {
        var steps = Self.steps(5, window: 2)
        Self.apply(StrategyMachine.decide(Self.strategy(), steps, facts: Self.facts(steps), now: Self.now), to: &steps)
        let failed = Self.facts(steps) { name, site in
            if name == "Default-00" {
                site.deployment = Deployment(id: 1, subcloud: name, kind: .firmware, name: "bios", version: "2.0", activate: true, state: .failed,
                                             detail: "fwupd exited with status 1", createdAt: Self.now, updatedAt: Self.now)
            }
        }
        let decisions = StrategyMachine.decide(Self.strategy(), steps, facts: failed, now: Self.now)
        #expect(decisions.contains(.step("Default-00", .failed, detail: "fwupd exited with status 1")))
        #expect(Self.starts(decisions).isEmpty)
        Self.apply(decisions, to: &steps)
        #expect(steps.filter { $0.state == .aborted }.count == 3)
        // The step in flight finishes; then the strategy ends failed.
        let last = Self.facts(steps) { name, site in if name == "Default-01" { site.installedVersion = "2.0" } }
        let end = StrategyMachine.decide(Self.strategy(), steps, facts: last, now: Self.now)
        guard case .finish(.failed, let detail)? = end.last else { Issue.record("\(end)"); return }
        #expect(detail.contains("1 failed (Default-00)"))
    }

    @Test("without stop-on-failure the failure threshold stops the strategy")
    func failureThreshold() {
        let settings = StrategySettings(stopOnFailure: false, failureThreshold: 50)
        var steps = Self.steps(6, window: 4)
        Self.apply(StrategyMachine.decide(Self.strategy(.firmware, settings), steps, facts: Self.facts(steps), now: Self.now), to: &steps)
        // One of four finished fails (25 %): the strategy goes on.
        let oneBad = Self.facts(steps) { name, site in
            switch name {
            case "Default-00": site.deployment = Deployment(id: 1, subcloud: name, kind: .firmware, name: "bios", version: "2.0", activate: true, state: .failed, detail: "bad", createdAt: Self.now, updatedAt: Self.now)
            case "Default-01", "Default-02", "Default-03": site.installedVersion = "2.0"
            default: break
            }
        }
        let going = StrategyMachine.decide(Self.strategy(.firmware, settings), steps, facts: oneBad, now: Self.now)
        #expect(Self.starts(going) == ["Default-04", "Default-05"])
        Self.apply(going, to: &steps)
        // Two more fail: 3 of 6 finished (50 %) — threshold reached, the strategy fails.
        let worse = Self.facts(steps) { name, site in
            if name == "Default-04" || name == "Default-05" {
                site.deployment = Deployment(id: 2, subcloud: name, kind: .firmware, name: "bios", version: "2.0", activate: true, state: .failed, detail: "bad", createdAt: Self.now, updatedAt: Self.now)
            }
        }
        guard case .finish(.failed, _)? = StrategyMachine.decide(Self.strategy(.firmware, settings), steps, facts: worse, now: Self.now).last else {
            Issue.record("did not fail")
            return
        }
    }

    @Test("offline, unmanaged and already-updated sites are skipped with the reason, and take no place in the window")
    func skips() {
        let steps = Self.steps(4, window: 1)
        let facts = Self.facts(steps) { name, site in
            switch name {
            case "Default-00": site.online = false
            case "Default-01": site.managed = false
            case "Default-02": site.installedVersion = "2.0"
            default: break
            }
        }
        let decisions = StrategyMachine.decide(Self.strategy(), steps, facts: facts, now: Self.now)
        #expect(decisions.contains(.step("Default-00", .skipped, detail: "offline")))
        #expect(decisions.contains(.step("Default-01", .skipped, detail: "unmanaged")))
        #expect(decisions.contains(.step("Default-02", .skipped, detail: "already in sync")))
        #expect(Self.starts(decisions) == ["Default-03"])
    }

    @Test("a step with no result within the timeout fails and says so; a site going offline fails its step")
    func timeoutAndOffline() {
        var steps = Self.steps(2, window: 2)
        Self.apply(StrategyMachine.decide(Self.strategy(.firmware, StrategySettings(stepTimeout: 60)), steps, facts: Self.facts(steps), now: Self.now), to: &steps)
        let later = Self.now.addingTimeInterval(61)
        let facts = Self.facts(steps) { name, site in if name == "Default-01" { site.online = false } }
        let decisions = StrategyMachine.decide(Self.strategy(.firmware, StrategySettings(stepTimeout: 60)), steps, facts: facts, now: later)
        #expect(decisions.contains(.step("Default-00", .failed, detail: "no result within 60 s")))
        #expect(decisions.contains(.step("Default-01", .failed, detail: "subcloud went offline")))
    }

    @Test("abort: the waiting steps are aborted, steps in flight finish, then the strategy ends aborted")
    func abort() {
        var steps = Self.steps(4, window: 1)
        Self.apply(StrategyMachine.decide(Self.strategy(), steps, facts: Self.facts(steps), now: Self.now), to: &steps)
        let aborting = Self.strategy(state: .aborting)
        let decisions = StrategyMachine.decide(aborting, steps, facts: Self.facts(steps), now: Self.now)
        #expect(Self.starts(decisions).isEmpty)
        Self.apply(decisions, to: &steps)
        #expect(steps.map(\.state) == [.applying, .aborted, .aborted, .aborted])
        let done = Self.facts(steps) { _, site in site.installedVersion = "2.0" }
        guard case .finish(.aborted, _)? = StrategyMachine.decide(aborting, steps, facts: done, now: Self.now).last else {
            Issue.record("not aborted")
            return
        }
    }

    @Test("backup steps are never skipped as in sync, and end with their backup: complete, failed with its reason, or timed out naming its state")
    func backupSteps() {
        var strategy = Strategy(type: .backup, content: .backup(localOnly: false, keep: 3), settings: StrategySettings(stepTimeout: 60), targets: "all", createdAt: Self.now)
        strategy.state = .applying
        var steps = Self.steps(3, window: 3)
        // Same "installed version" as the (empty) content version: still a backup to take.
        let first = StrategyMachine.decide(strategy, steps, facts: Self.facts(steps) { _, site in site.installedVersion = "" }, now: Self.now)
        #expect(Self.starts(first).count == 3)
        Self.apply(first, to: &steps)
        func backup(_ id: Int64, _ state: Backup.State, _ detail: String) -> Backup {
            var backup = Backup(id: id, subcloud: "x", localOnly: false, at: Self.now)
            backup.state = state
            backup.detail = detail
            backup.chunks = 4
            backup.chunksUploaded = 1
            return backup
        }
        let facts = Self.facts(steps) { name, site in
            switch name {
            case "Default-00": site.backup = backup(1, .complete, "")
            case "Default-01": site.backup = backup(2, .failed, "tar exited 2")
            default: site.backup = backup(3, .archiving, "the site is making the archive")
            }
        }
        let later = StrategyMachine.decide(strategy, steps, facts: facts, now: Self.now.addingTimeInterval(61))
        #expect(later.contains(.step("Default-00", .complete, detail: "backup 1 complete: 1 of 4 chunks uploaded")))
        #expect(later.contains(.step("Default-01", .failed, detail: "backup 2 failed: tar exited 2")))
        #expect(later.contains(.step("Default-02", .failed, detail: "no result within 60 s (backup 3 archiving: the site is making the archive)")))
    }

    @Test("restore steps end with their deployment: activated is complete, failed carries the site's reason")
    func restoreSteps() {
        var strategy = Strategy(type: .restore, content: .restore, settings: StrategySettings(), targets: "all", createdAt: Self.now)
        strategy.state = .applying
        var steps = Self.steps(2, window: 2)
        Self.apply(StrategyMachine.decide(strategy, steps, facts: Self.facts(steps), now: Self.now), to: &steps)
        #expect(steps.allSatisfy { $0.state == .applying })
        steps[0].backupID = 7
        func deployment(_ state: DeploymentState, _ detail: String) -> Deployment {
            Deployment(id: 1, subcloud: "x", kind: .backup, name: "backup/7", version: "ab", activate: true, state: state, detail: detail, createdAt: Self.now, updatedAt: Self.now)
        }
        let facts = Self.facts(steps) { name, site in
            site.deployment = name == "Default-00" ? deployment(.activated, "") : deployment(.failed, "member escapes its root: ../x")
        }
        let decided = StrategyMachine.decide(strategy, steps, facts: facts, now: Self.now)
        #expect(decided.contains(.step("Default-00", .complete, detail: "backup 7 restored")))
        #expect(decided.contains(.step("Default-01", .failed, detail: "member escapes its root: ../x")))
        #expect(decided.contains(.finish(.failed, detail: "1 failed (Default-01); 1 complete, 1 failed")))
    }
}
