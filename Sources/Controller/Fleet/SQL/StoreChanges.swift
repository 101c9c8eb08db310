import NIOConcurrencyHelpers

/// What committed transactions changed, for the live dashboard: the subcloud rows
/// (by rowid) and the other tables touched. The backend records each commit here (the
/// SQLite one from GRDB's observer, on the writer's queue; the PostgreSQL one from
/// every replica's notifications), so it only records and rings; `FleetFeed` reads
/// and diffs later.
public final class StoreChanges: Sendable {
    /// Changes since the last `take()`.
    public struct Pending: Sendable, Equatable {
        public var subclouds: Set<Int64> = []
        public var deletedSubclouds: Set<Int64> = []
        /// Some subcloud rows changed, which is not known: read them all.
        public var allSubclouds = false
        public var tables: Set<String> = []

        public init(subclouds: Set<Int64> = [], deletedSubclouds: Set<Int64> = [], allSubclouds: Bool = false, tables: Set<String> = []) {
            self.subclouds = subclouds
            self.deletedSubclouds = deletedSubclouds
            self.allSubclouds = allSubclouds
            self.tables = tables
        }

        public var isEmpty: Bool { self.subclouds.isEmpty && self.deletedSubclouds.isEmpty && !self.allSubclouds && self.tables.isEmpty }

        mutating func merge(_ other: Pending) {
            self.subclouds.formUnion(other.subclouds)
            self.deletedSubclouds.formUnion(other.deletedSubclouds)
            self.allSubclouds = self.allSubclouds || other.allSubclouds
            self.tables.formUnion(other.tables)
        }
    }

    /// Tables the dashboard shows something of.
    public static let watched: Set<String> = ["subcloud", "alarm", "controllerAlarm", "event", "installed", "release", "strategy", "strategyStep", "deployment", "backup", "configState"]

    private let committedCount = NIOLockedValueBox(0)
    /// Commits that changed fleet tables since the store opened (`tern_store_commits_total`).
    public var commits: Int { self.committedCount.withLockedValue { $0 } }
    private let pending = NIOLockedValueBox(Pending())
    let wakeup = Wakeup()

    public init() {}

    /// Records one committed transaction's changes and wakes the feed.
    public func committed(_ changes: Pending) {
        guard !changes.isEmpty else { return }
        self.committedCount.withLockedValue { $0 += 1 }
        self.pending.withLockedValue { $0.merge(changes) }
        self.wakeup.notify()
    }

    /// The changes so far, cleared.
    func take() -> Pending {
        self.pending.withLockedValue { pending in
            defer { pending = Pending() }
            return pending
        }
    }

    /// Waits for a commit that changed something (or `timeout`).
    func wait(upTo timeout: Duration) async {
        await self.wakeup.wait(upTo: timeout)
    }
}
