import GRDB
import NIOConcurrencyHelpers

/// What committed transactions changed, for the live dashboard: the subcloud rows
/// (by rowid) and the other tables touched. GRDB calls it on the writer's queue, so it
/// only records and rings; `FleetFeed` reads and diffs later, off that queue.
public final class StoreChanges: TransactionObserver, Sendable {
    /// Changes since the last `take()`.
    public struct Pending: Sendable, Equatable {
        public var subclouds: Set<Int64> = []
        public var deletedSubclouds: Set<Int64> = []
        public var tables: Set<String> = []

        public var isEmpty: Bool { self.subclouds.isEmpty && self.deletedSubclouds.isEmpty && self.tables.isEmpty }
    }

    /// Tables the dashboard shows something of.
    static let watched: Set<String> = ["subcloud", "alarm", "controllerAlarm", "event", "installed", "release", "strategy", "strategyStep", "deployment", "backup", "configState"]

    private let staged = NIOLockedValueBox(Pending())
    private let committed = NIOLockedValueBox(0)
    /// Commits that changed fleet tables since the store opened (`tern_store_commits_total`).
    public var commits: Int { self.committed.withLockedValue { $0 } }
    private let pending = NIOLockedValueBox(Pending())
    let wakeup = Wakeup()

    public func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        Self.watched.contains(eventKind.tableName)
    }

    public func databaseDidChange(with event: DatabaseEvent) {
        let table = event.tableName
        let rowID = event.rowID
        let kind = event.kind
        self.staged.withLockedValue { staged in
            guard table == "subcloud" else {
                staged.tables.insert(table)
                return
            }
            if kind == .delete { staged.deletedSubclouds.insert(rowID) } else { staged.subclouds.insert(rowID) }
        }
    }

    public func databaseDidCommit(_ db: Database) {
        let staged = self.staged.withLockedValue { staged in
            defer { staged = Pending() }
            return staged
        }
        guard !staged.isEmpty else { return }
        self.committed.withLockedValue { $0 += 1 }
        self.pending.withLockedValue { pending in
            pending.subclouds.formUnion(staged.subclouds)
            pending.deletedSubclouds.formUnion(staged.deletedSubclouds)
            pending.tables.formUnion(staged.tables)
        }
        self.wakeup.notify()
    }

    public func databaseDidRollback(_ db: Database) {
        self.staged.withLockedValue { $0 = Pending() }
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
