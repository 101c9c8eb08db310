import Logging
import ServiceLifecycle

/// Writes the health agents reported to the store in batches: everything merged in
/// the last `interval`, in one transaction, and what is left at shutdown. With 20,000
/// agents reporting every 10 s that is one write a second instead of 2,000.
/// Availability does not wait on it: `LiveFleet` hears every message in memory.
struct HealthFlush: Service {
    let book: HealthBook
    let store: any SubcloudStore
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            } catch {
                break
            }
            await self.flush()
        }
        await self.flush()
    }

    func flush() async {
        let batch = self.book.takeChanged()
        guard !batch.isEmpty else { return }
        do {
            try await self.store.recordHealth(batch)
        } catch {
            self.logger.error("could not write health reports", metadata: ["subclouds": "\(batch.count)", "error": "\(error)"])
        }
    }
}
