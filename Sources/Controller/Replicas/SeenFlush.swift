import Foundation
import Logging
import ServiceLifecycle

/// With replicas: records every `period` that the subclouds connected here were seen,
/// so that the lease holder can tell a site another replica holds from one no replica
/// has heard from (`OfflineRule.sharedVerdict`). One statement per 500 sites.
struct SeenFlush: Service {
    let live: LiveFleet
    let store: any LeaseStore
    let period: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await self.store.markSeen(await self.live.connectedNames, at: Date())
            } catch {
                self.logger.warning("could not record the subclouds connected here", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.period) }
        }
    }
}
