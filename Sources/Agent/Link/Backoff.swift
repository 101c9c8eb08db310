import NIOCore

/// Reconnect delays with exponential growth and full jitter: each delay is drawn
/// uniformly from [0, min(cap, base × 2^attempt)]. After a controller restart,
/// agents come back spread over the whole window instead of in one wave.
public struct Backoff: Sendable {
    public let base: TimeAmount
    public let cap: TimeAmount
    public private(set) var attempt = 0

    public init(base: TimeAmount, cap: TimeAmount) {
        precondition(base.nanoseconds > 0 && cap >= base)
        self.base = base
        self.cap = cap
    }

    /// The upper bound of the next delay.
    public var ceiling: TimeAmount {
        let shift = min(self.attempt, 40)
        let (scaled, overflow) = self.base.nanoseconds.multipliedReportingOverflow(by: Int64(1) << shift)
        return overflow ? self.cap : min(self.cap, .nanoseconds(scaled))
    }

    /// The next delay, using `generator` for the jitter.
    public mutating func next<G: RandomNumberGenerator>(using generator: inout G) -> TimeAmount {
        let ceiling = self.ceiling
        self.attempt += 1
        return .nanoseconds(Int64.random(in: 0...ceiling.nanoseconds, using: &generator))
    }

    public mutating func next() -> TimeAmount {
        var generator = SystemRandomNumberGenerator()
        return self.next(using: &generator)
    }

    /// A connection succeeded and stayed up: start again from the base.
    public mutating func reset() {
        self.attempt = 0
    }
}
