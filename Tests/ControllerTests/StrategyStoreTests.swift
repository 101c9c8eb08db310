import Foundation
import TernTestSupport
import Testing
import Wire
@testable import Controller

/// Strategies in the SQLite store, and how their steps are laid out.
@Suite struct StrategyStoreTests {
    static let t0 = FleetStoreTests.t0

    static func content(_ type: StrategyType) -> StrategyContent {
        StrategyContent(kind: type == .software ? .ostree : .firmware, name: "x", version: "2")
    }

    @Test("groups run in priority order, each with the strategy's window or else its own", arguments: StoreFixture.kinds)
    func planByPriority(_ kind: StoreFixture.Kind) async throws {
        try await FleetStoreTests.withStore(kind) { store, _ in
            _ = try await store.createGroup(SubcloudGroup(name: "late", description: "", updateApplyType: .serial, maxParallel: 5, priority: 50))
            _ = try await store.createGroup(SubcloudGroup(name: "early", description: "", updateApplyType: .parallel, maxParallel: 4, priority: 1))
            for (name, group) in [("a", "late"), ("b", "early"), ("c", "early"), ("d", "Default")] {
                _ = try await store.createSubcloud(name: name, group: group, description: "", token: FleetStoreTests.token(), at: Self.t0)
            }
            let groups = try await store.groups()
            let own = StrategyPlan.steps(for: try await store.subclouds(), groups: groups, settings: StrategySettings())
            // early (1), Default (10), late (50); the late group is serial by its own setting.
            #expect(own.map(\.subcloud) == ["b", "c", "d", "a"])
            #expect(own.map(\.stage) == [0, 0, 1, 2])
            #expect(own.map(\.window) == [4, 4, 2, 1])
            let forced = StrategyPlan.steps(for: try await store.subclouds(), groups: groups, settings: StrategySettings(applyType: .parallel, maxParallel: 7))
            #expect(forced.map(\.window) == [7, 7, 7, 7])
        }
    }

    @Test("one strategy per type; another type may run beside it only on other subclouds; a running one cannot be deleted; it all survives a reopen", arguments: StoreFixture.kinds)
    func onePerTypeAndOverlap(_ kind: StoreFixture.Kind) async throws {
        try await FleetStoreTests.withStore(kind) { store, path in
            for name in ["a", "b", "c"] {
                _ = try await store.createSubcloud(name: name, group: "Default", description: "", token: FleetStoreTests.token(), at: Self.t0)
            }
            let step = { (name: String) in StrategyStep(subcloud: name, group: "Default", stage: 0, window: 1) }
            var firmware = Strategy(type: .firmware, content: Self.content(.firmware), settings: StrategySettings(), targets: "a, b", createdAt: Self.t0)
            try await store.createStrategy(firmware, steps: [step("a"), step("b")])
            await #expect(throws: FleetStoreError.self) {
                try await store.createStrategy(firmware, steps: [step("c")])
            }
            let software = Strategy(type: .software, content: Self.content(.software), settings: StrategySettings(), targets: "b, c", createdAt: Self.t0)
            do {
                try await store.createStrategy(software, steps: [step("b"), step("c")])
                Issue.record("an overlapping strategy was created")
            } catch let error as FleetStoreError {
                #expect(error.message.contains("also targets b"))
            }
            try await store.createStrategy(software, steps: [step("c")])

            firmware.state = .applying
            try await store.saveStrategy(firmware, event: "started", at: Self.t0)
            await #expect(throws: FleetStoreError.self) { try await store.deleteStrategy(.firmware) }
            var moved = step("a")
            moved.state = .applying
            moved.deploymentID = 42
            try await store.saveSteps([moved], of: .firmware, at: Self.t0, transitions: true)

            let reopened = try await path.open()
            #expect(try await reopened.strategy(.firmware)?.state == .applying)
            #expect(try await reopened.steps(of: .firmware).map(\.deploymentID) == [42, nil])
            #expect(try await reopened.events(since: nil, limit: 50).contains { $0.subcloud == "a" && $0.detail == "firmware step applying" })
            try await reopened.deleteStrategy(.software)
            #expect(try await reopened.strategies().map(\.type) == [.firmware])
        }
    }
}
