import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Which controller replica runs the work that must run once: a lease in the shared
/// database, renewed every quarter of its length and taken over by another replica
/// once it has expired (a replica killed with -9 loses it within `duration`). Alone
/// (the embedded SQLite store) a controller is always the leader and keeps no lease.
public final class Leadership: Service, Sendable {
    public static let leaseName = "background"
    let store: (any LeaseStore)?
    /// This process, as the lease names it.
    public let replica: String
    let duration: TimeInterval
    let logger: Logger
    private let held: NIOLockedValueBox<Bool>
    /// This replica's protocol address as agents reach it, when known.
    private let address = NIOLockedValueBox<String?>(nil)
    private let peers = NIOLockedValueBox<[String]>([])

    /// A controller alone.
    public static func alone() -> Leadership {
        Leadership(store: nil, replica: "single", duration: 0, logger: Logger(label: "tern.leadership"))
    }

    /// One replica of several sharing `store`.
    public init(store: (any LeaseStore)?, replica: String, duration: TimeInterval = 10, logger: Logger) {
        self.store = store
        self.replica = replica
        self.duration = duration
        self.logger = logger
        self.held = NIOLockedValueBox(store == nil)
    }

    public var isReplicated: Bool { self.store != nil }

    /// The other replicas' protocol addresses (heard from in the last 30 s), for enrolment to hand out.
    public var otherAddresses: [String] {
        let own = self.address.withLockedValue { $0 }
        return self.peers.withLockedValue { $0 }.filter { $0 != own }
    }

    /// Sets the address announced to the other replicas (once the listener is bound).
    public func advertise(_ address: String?) {
        self.address.withLockedValue { $0 = address }
    }

    /// Whether this replica runs the once-only work now.
    public var isLeader: Bool { self.held.withLockedValue { $0 } }

    public func run() async throws {
        guard let store else {
            // Nothing to keep, but a service that returns ends the group: wait for shutdown.
            try? await gracefulShutdown()
            return
        }
        var renewedAt = Date.distantPast
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let now = Date()
            var leader: Bool
            do {
                leader = try await store.acquireLease(Self.leaseName, holder: self.replica, for: self.duration, at: now) == self.replica
                if leader { renewedAt = now }
            } catch {
                self.logger.warning("lease: cannot reach the store", metadata: ["error": "\(error)"])
                // Still ours until it would have expired; after that another may have it.
                leader = self.isLeader && Date().timeIntervalSince(renewedAt) < self.duration * 0.75
            }
            do {
                let peers = try await store.announceReplica(self.replica, address: self.address.withLockedValue { $0 }, at: now, since: now.addingTimeInterval(-30))
                self.peers.withLockedValue { $0 = peers }
            } catch {
                self.logger.debug("replica: cannot announce this one", metadata: ["error": "\(error)"])
            }
            let was = self.held.withLockedValue { held in
                defer { held = leader }
                return held
            }
            if was != leader {
                self.logger.notice(leader ? "this replica now runs the fleet's background work" : "another replica runs the fleet's background work",
                                   metadata: ["replica": "\(self.replica)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int64(self.duration * 250))) }
        }
        if self.isLeader {
            self.held.withLockedValue { $0 = false }
            try? await store.releaseLease(Self.leaseName, holder: self.replica)
        }
    }
}
