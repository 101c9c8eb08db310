import NIOConcurrencyHelpers
import Wire

/// Who waits for which object to arrive. A wait ends when the object is stored,
/// when the sender says it does not have it, or when the waiting task is cancelled
/// (agent shutdown): cancellation comes from outside the `Transfers` actor, so the
/// waiters sit behind a lock of their own.
public final class ArrivalWaiters: Sendable {
    public typealias Waiter = CheckedContinuation<String, any Error>

    private struct State {
        var waiting: [ContentDigest: [UInt64: Waiter]] = [:]
        var owner: [UInt64: ContentDigest] = [:]
        /// Cancelled before they were added.
        var cancelledEarly: Set<UInt64> = []
        var nextID: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())

    /// Waits for `digest`; `resume` or `fail` ends the wait, as does cancellation.
    /// Runs on the caller's actor up to the point the wait is registered, so nothing
    /// the actor does between its own check and this registration can be missed.
    nonisolated(nonsending) func wait(for digest: ContentDigest) async throws -> String {
        let id = self.state.withLockedValue { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: Waiter) in
                let cancelled = self.state.withLockedValue { state -> Bool in
                    if state.cancelledEarly.remove(id) != nil { return true }
                    state.waiting[digest, default: [:]][id] = continuation
                    state.owner[id] = digest
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter = self.state.withLockedValue { state -> Waiter? in
                guard let digest = state.owner.removeValue(forKey: id) else {
                    state.cancelledEarly.insert(id)
                    return nil
                }
                return state.waiting[digest]?.removeValue(forKey: id)
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// The object is here: every wait for it ends with its path.
    public func resume(_ digest: ContentDigest, path: String) {
        for waiter in self.take(digest) { waiter.resume(returning: path) }
    }

    /// The object will not come: every wait for it ends with `error`.
    public func fail(_ digest: ContentDigest, _ error: any Error) {
        for waiter in self.take(digest) { waiter.resume(throwing: error) }
    }

    private func take(_ digest: ContentDigest) -> [Waiter] {
        self.state.withLockedValue { state in
            let waiters = state.waiting.removeValue(forKey: digest) ?? [:]
            for id in waiters.keys { state.owner[id] = nil }
            return Array(waiters.values)
        }
    }
}
