import Foundation
import Logging
import NIOCore
import TernTestSupport
import Testing
@testable import Controller

/// The dashboard feed on a real SQLite store: what each commit changed becomes a
/// delta, heartbeat-only changes a `seen` batch, and a page that resumes gets what
/// it missed — or a snapshot when that is gone.
@Suite struct FleetFeedTests {
    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    struct Frame {
        var id: String?
        var event: String
        var data: [String: Any]
    }

    /// Reads SSE frames (skipping `retry:` and comments) from a page's stream.
    final class Page {
        var iterator: AsyncStream<ByteBuffer>.AsyncIterator
        init(_ stream: AsyncStream<ByteBuffer>) { self.iterator = stream.makeAsyncIterator() }

        func next(timeout: Duration = .seconds(5)) async throws -> Frame? {
            while true {
                guard let buffer = await self.iterator.next() else { return nil }
                let text = String(buffer: buffer)
                var frame = Frame(id: nil, event: "", data: [:])
                for line in text.split(separator: "\n") {
                    if line.hasPrefix("id: ") { frame.id = String(line.dropFirst(4)) }
                    if line.hasPrefix("event: ") { frame.event = String(line.dropFirst(7)) }
                    if line.hasPrefix("data: ") {
                        frame.data = try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any] ?? [:]
                    }
                }
                if !frame.event.isEmpty { return frame }
            }
        }
    }

    static func withFeed(_ kind: StoreFixture.Kind, _ body: (SQLFleetStore, FleetFeed) async throws -> Void) async throws {
        let fixture = try await StoreFixture(kind)
        defer { fixture.remove() }
        let store = try await fixture.open()
        for name in ["edge-01", "edge-02"] {
            _ = try await store.createSubcloud(
                name: name, group: "Default", description: "", token: BootstrapToken.Record(hash: name, expiresAt: t0.addingTimeInterval(3600)), at: t0
            )
        }
        let feed = FleetFeed(store: store, changes: store.changes, logger: Logger(label: "test"), coalesce: .milliseconds(10), seenInterval: .milliseconds(300))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await feed.run() }
            try await body(store, feed)
            group.cancelAll()
        }
    }

    @Test("with no page open the feed lets go of the fleet and reads nothing; the next page gets a snapshot of the fleet as it is then", arguments: StoreFixture.kinds)
    func idle(_ kind: StoreFixture.Kind) async throws {
        let fixture = try await StoreFixture(kind)
        defer { fixture.remove() }
        let store = try await fixture.open()
        _ = try await store.createSubcloud(name: "edge-01", group: "Default", description: "", token: BootstrapToken.Record(hash: "t1", expiresAt: Self.t0.addingTimeInterval(3600)), at: Self.t0)
        let feed = FleetFeed(store: store, changes: store.changes, logger: Logger(label: "test"), coalesce: .milliseconds(10), idleAfter: .milliseconds(300))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await feed.run() }
            try await Task.sleep(for: .milliseconds(200))
            #expect(await !feed.isFollowing, "no page has opened: nothing to follow")
            var snapshotID: String?
            do {
                let page = Page(try #require(try await feed.subscribe(lastEventID: nil)))
                let snapshot = try #require(try await page.next())
                #expect(snapshot.event == "snapshot" && Array(Self.rows(snapshot).keys) == ["edge-01"])
                snapshotID = snapshot.id
                #expect(await feed.isFollowing)
            }
            // The page is gone: past idleAfter the feed stops following.
            let stopped = await eventually(timeout: .seconds(15)) { await !feed.isFollowing }
            #expect(stopped && feed.pagesOpen == 0)
            _ = try await store.createSubcloud(name: "edge-02", group: "Default", description: "", token: BootstrapToken.Record(hash: "t2", expiresAt: Self.t0.addingTimeInterval(3600)), at: Self.t0)
            // A page resuming from before gets a snapshot with what changed meanwhile.
            let again = Page(try #require(try await feed.subscribe(lastEventID: snapshotID)))
            let fresh = try #require(try await again.next())
            #expect(fresh.event == "snapshot" && Set(Self.rows(fresh).keys) == ["edge-01", "edge-02"], "\(fresh.event) \(Self.rows(fresh).keys)")
            group.cancelAll()
        }
    }

    static func rows(_ frame: Frame) -> [String: [String: Any]] {
        Dictionary(uniqueKeysWithValues: (frame.data["rows"] as? [[String: Any]] ?? []).map { ($0["name"] as! String, $0) })
    }

    @Test("a page gets a snapshot, then a delta with only the row that changed and the event the change logged", arguments: StoreFixture.kinds)
    func snapshotThenDelta(_ kind: StoreFixture.Kind) async throws {
        try await Self.withFeed(kind) { store, feed in
            let page = Page(try #require(try await feed.subscribe(lastEventID: nil)))
            let snapshot = try #require(try await page.next())
            #expect(snapshot.event == "snapshot" && Set(Self.rows(snapshot).keys) == ["edge-01", "edge-02"])
            #expect((snapshot.data["events"] as? [Any])?.count == 2)

            try await store.markOnline("edge-01", software: "tern-agent 2", at: Self.t0)
            let delta = try #require(try await page.next())
            #expect(delta.event == "delta")
            #expect(Array(Self.rows(delta).keys) == ["edge-01"] && Self.rows(delta)["edge-01"]?["availability"] as? String == "online")
            #expect(Self.rows(delta)["edge-01"]?["agent"] as? String == "tern-agent 2")
            #expect((delta.data["events"] as? [[String: Any]])?.first?["subcloud"] as? String == "edge-01")
            #expect(delta.id != snapshot.id)

            // An alarm changes the row's counts and the alarm list in one delta.
            try await store.raise(FleetAlarms.offline("edge-02", reason: "test", at: Self.t0))
            let alarmed = try #require(try await page.next())
            #expect(Self.rows(alarmed)["edge-02"]?["alarms"] as? [Int] == [1, 0, 0, 0])
            #expect((alarmed.data["alarms"] as? [[String: Any]])?.count == 1)

            try await store.deleteSubcloud("edge-02", at: Self.t0)
            var removed: Frame? = try await page.next()
            while let frame = removed, (frame.data["removed"] as? [String] ?? []).isEmpty { removed = try await page.next() }
            #expect(removed?.data["removed"] as? [String] == ["edge-02"])
        }
    }

    @Test("heartbeat-only changes travel as seen batches, not row deltas", arguments: StoreFixture.kinds)
    func seenBatches(_ kind: StoreFixture.Kind) async throws {
        try await Self.withFeed(kind) { store, feed in
            try await store.markOnline("edge-01", software: "tern-agent 1", at: Self.t0)
            let page = Page(try #require(try await feed.subscribe(lastEventID: nil)))
            var frame = try #require(try await page.next())
            #expect(frame.event == "snapshot")
            // The feed may have read the store before the first change: then it comes as a delta.
            while Self.rows(frame)["edge-01"]?["availability"] as? String != "online" {
                frame = try #require(try await page.next())
            }
            try await store.markOnline("edge-01", software: "tern-agent 1", at: Self.t0.addingTimeInterval(10))
            frame = try #require(try await page.next())
            #expect(frame.event == "seen" && frame.id == nil, "\(frame.event) \(frame.data)")
            #expect(frame.data["edge-01"] as? Double == Self.t0.timeIntervalSince1970 + 10)
        }
    }

    @Test("a page that resumes with Last-Event-ID gets exactly the deltas it missed; an id from another run, or one too old, gets a snapshot", arguments: StoreFixture.kinds)
    func resume(_ kind: StoreFixture.Kind) async throws {
        try await Self.withFeed(kind) { store, feed in
            let first = Page(try #require(try await feed.subscribe(lastEventID: nil)))
            let snapshot = try #require(try await first.next())
            try await store.markOnline("edge-01", software: "tern-agent 2", at: Self.t0)
            let seen = try #require(try await first.next()?.id)
            try await store.markOnline("edge-02", software: "tern-agent 2", at: Self.t0)
            let missed = try #require(try await first.next())

            let resumed = Page(try #require(try await feed.subscribe(lastEventID: seen)))
            let replay = try #require(try await resumed.next())
            #expect(replay.event == "delta" && replay.id == missed.id && Array(Self.rows(replay).keys) == ["edge-02"])
            let fromSnapshot = Page(try #require(try await feed.subscribe(lastEventID: snapshot.id)))
            #expect(try await fromSnapshot.next()?.id == seen)

            let foreign = Page(try #require(try await feed.subscribe(lastEventID: "deadbeef-1")))
            #expect(try await foreign.next()?.event == "snapshot")
            let future = Page(try #require(try await feed.subscribe(lastEventID: "\(feed.epoch)-999999")))
            #expect(try await future.next()?.event == "snapshot")
        }
    }

    @Test("a page that stops reading is disconnected once its buffer is full, and the others are not", arguments: StoreFixture.kinds)
    func slowPage(_ kind: StoreFixture.Kind) async throws {
        try await Self.withFeed(kind) { store, feed in
            let slow = try #require(try await feed.subscribe(lastEventID: nil))
            let reader = Page(try #require(try await feed.subscribe(lastEventID: nil)))
            #expect(try await reader.next()?.event == "snapshot")
            #expect(feed.pagesOpen == 2)
            var deltas = 0
            // Every change is one delta (the feed waits for each before the next).
            while feed.pagesOpen == 2 && deltas < 400 {
                try await store.markOnline("edge-01", software: "tern-agent \(deltas)", at: Self.t0)
                guard let frame = try await reader.next() else { break }
                if frame.event == "delta" { deltas += 1 }
            }
            #expect(feed.pagesOpen == 1, "after \(deltas) deltas")
            #expect(deltas > 200 && deltas < 300, "\(deltas)")
            // The slow page's stream ends after what it was given.
            var frames = 0
            for await _ in slow { frames += 1 }
            #expect(frames > 200)
        }
    }

    @Test("a page limit refuses the page past it")
    func pageLimit() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLFleetStore(path: directory.appending("fleet.sqlite"))
        let feed = FleetFeed(store: store, changes: store.changes, logger: Logger(label: "test"), coalesce: .milliseconds(10), pageLimit: 2)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await feed.run() }
            let a = try await feed.subscribe(lastEventID: nil)
            let b = try await feed.subscribe(lastEventID: nil)
            #expect(a != nil && b != nil)
            #expect(try await feed.subscribe(lastEventID: nil) == nil)
            group.cancelAll()
        }
    }

    @Test("stopping the feed ends every open page's stream (and the controller's shutdown does not wait on them)")
    func stopEndsPages() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLFleetStore(path: directory.appending("fleet.sqlite"))
        let feed = FleetFeed(store: store, changes: store.changes, logger: Logger(label: "test"), coalesce: .milliseconds(10))
        let running = Task { try await feed.run() }
        let pages = [try await feed.subscribe(lastEventID: nil), try await feed.subscribe(lastEventID: nil)].compactMap { $0 }
        #expect(pages.count == 2 && feed.pagesOpen == 2)
        running.cancel()
        _ = await running.result
        for page in pages {
            var frames = 0
            for await _ in page { frames += 1 }
            #expect(frames >= 2)
        }
        #expect(feed.pagesOpen == 0)
    }
}
