/// Which of the controller's addresses to dial, and when a failure calls for the
/// backoff: a failed or lost connection moves to the next address at once; only
/// when every address has failed since the last good connection does the agent
/// back off. With one address every failure backs off, as before replicas.
struct ControllerRotation: Sendable {
    let addresses: [ControllerAddress]
    private(set) var index = 0
    private var failuresSinceSuccess = 0

    init(_ addresses: [ControllerAddress]) {
        precondition(!addresses.isEmpty)
        self.addresses = addresses
    }

    /// The address to dial now.
    var current: ControllerAddress { self.addresses[self.index] }

    /// A connection stayed up: the next failure starts a new round.
    mutating func succeeded() {
        self.failuresSinceSuccess = 0
    }

    /// The connection to `current` failed or ended: move to the next address.
    /// Returns true when every address has now failed in this round (back off first).
    mutating func failed() -> Bool {
        self.index = (self.index + 1) % self.addresses.count
        self.failuresSinceSuccess += 1
        guard self.failuresSinceSuccess >= self.addresses.count else { return false }
        self.failuresSinceSuccess = 0
        return true
    }
}
