import NIOCore
import TernTestSupport
import Testing
import Wire
@testable import Agent

@Suite struct BackoffTests {
    @Test("delays grow exponentially to the cap and are drawn with full jitter")
    func growth() {
        var backoff = Backoff(base: .milliseconds(500), cap: .seconds(60))
        var generator = SplitMix(seed: 7)
        var ceilings: [TimeAmount] = []
        for _ in 0..<10 {
            ceilings.append(backoff.ceiling)
            let delay = backoff.next(using: &generator)
            #expect(delay >= .zero && delay <= ceilings.last!)
        }
        #expect(ceilings.prefix(4) == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4)])
        #expect(ceilings.last == .seconds(60))
        backoff.reset()
        #expect(backoff.ceiling == .milliseconds(500))
    }

    @Test("10,000 agents at the cap come back spread over the whole window, not in one wave")
    func spread() {
        var generator = SplitMix(seed: 42)
        var buckets = [Int](repeating: 0, count: 10)
        for _ in 0..<10_000 {
            var backoff = Backoff(base: .seconds(1), cap: .seconds(60))
            for _ in 0..<8 { _ = backoff.next(using: &generator) }
            let delay = backoff.next(using: &generator)
            buckets[min(9, Int(delay.nanoseconds / 6_000_000_000))] += 1
        }
        // Uniform over 60 s: every 6-second slice gets about 1,000; none gets a stampede.
        #expect(buckets.allSatisfy { $0 > 800 && $0 < 1200 }, "\(buckets)")
    }
}
