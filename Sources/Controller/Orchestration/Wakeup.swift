import NIOConcurrencyHelpers

/// A doorbell: `notify()` from anywhere; `wait(upTo:)` returns at the next ring (or
/// at once if one rang since the last wait), or when the time is up. Rings while
/// nobody waits collapse into one.
final class Wakeup: Sendable {
    private struct State {
        var rang = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var nextID: UInt64 = 0
        var abandoned: Set<UInt64> = []
    }

    private let state = NIOLockedValueBox(State())

    func notify() {
        let waiter = self.state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rang = true
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }

    func wait(upTo timeout: Duration) async {
        let id = self.state.withLockedValue { state -> UInt64? in
            if state.rang {
                state.rang = false
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let now = self.state.withLockedValue { state -> Bool in
                        if state.abandoned.remove(id) != nil || state.rang {
                            state.rang = false
                            return true
                        }
                        state.waiter = (id, continuation)
                        return false
                    }
                    if now { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            // Whichever came first: the other one must end too.
            let pending = self.state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                if let waiter = state.waiter, waiter.id == id {
                    state.waiter = nil
                    return waiter.continuation
                }
                state.abandoned.insert(id)
                return nil
            }
            pending?.resume()
            group.cancelAll()
        }
        self.state.withLockedValue { _ = $0.abandoned.remove(id) }
    }
}
