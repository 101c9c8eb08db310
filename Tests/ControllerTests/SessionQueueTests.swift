import NIOCore
import Platform
import Testing
import Wire
@testable import Controller

@Suite struct SessionQueueTests {
    private static func event(_ sequence: UInt64) -> SessionQueue.Item {
        .event(.wire(.message(0, .heartbeat(Heartbeat(sequence: sequence, sentAtMillis: 0)), endStream: false)))
    }

    private static func sequence(of item: SessionQueue.Item?) -> UInt64? {
        guard case .event(.wire(.message(_, .heartbeat(let heartbeat), _))) = item else { return nil }
        return heartbeat.sequence
    }

    @Test("the first item starts one task; items come out in order; an empty queue ends it")
    func order() {
        var queue = SessionQueue()
        #expect(queue.enqueue(Self.event(1)) == .init(start: true))
        #expect(queue.enqueue(Self.event(2)) == .init())
        #expect(Self.sequence(of: queue.next().item) == 1)
        #expect(queue.enqueue(Self.event(3)) == .init(), "a running task takes it: no second task")
        #expect(Self.sequence(of: queue.next().item) == 2)
        #expect(Self.sequence(of: queue.next().item) == 3)
        #expect(queue.next().item == nil)
        #expect(!queue.running)
        #expect(queue.enqueue(Self.event(4)) == .init(start: true), "after the task ended, the next item starts another")
    }

    @Test("reading pauses at pauseAt waiting and resumes at resumeAt")
    func backpressure() {
        var queue = SessionQueue(pauseAt: 4, resumeAt: 2)
        var pauses = 0
        for i in 1...6 where queue.enqueue(Self.event(UInt64(i))).pause { pauses += 1 }
        #expect(pauses == 1 && queue.paused)
        var resumedAfter: Int?
        for taken in 1...6 {
            let (item, resume) = queue.next()
            #expect(Self.sequence(of: item) == UInt64(taken))
            if resume { resumedAfter = taken }
        }
        // Six queued: resumes when two or fewer wait before a take, at the fifth.
        #expect(resumedAfter == 5 && !queue.paused)
    }

    @Test("events are handled at once only when admitted, idle and not ended")
    func atOnce() {
        var queue = SessionQueue()
        #expect(queue.admittedAndIdle == nil, "not admitted yet")
        _ = queue.enqueue(Self.event(1))
        queue.admission = .init(name: "edge-1", generation: 1, compress: true)
        #expect(queue.admittedAndIdle == nil, "a task is running: order first")
        _ = queue.next()
        #expect(queue.admittedAndIdle == nil, "still running until the queue says empty")
        #expect(queue.next().item == nil)
        #expect(queue.admittedAndIdle?.name == "edge-1")
        queue.end()
        #expect(queue.admittedAndIdle == nil)
    }

    @Test("after end, events are dropped but the close still comes")
    func ended() {
        var queue = SessionQueue()
        _ = queue.enqueue(Self.event(1))
        _ = queue.enqueue(Self.event(2))
        #expect(Self.sequence(of: queue.next().item) == 1)
        queue.end()
        _ = queue.enqueue(Self.event(3))
        _ = queue.enqueue(.closed)
        guard case .closed = queue.next().item else {
            Issue.record("the close must come after end, and the events before it must not")
            return
        }
        #expect(queue.next().item == nil)
    }

    @Test("a queue that never empties does not keep what was taken")
    func busy() {
        var queue = SessionQueue()
        _ = queue.enqueue(Self.event(0))
        for i in 1...10_000 {
            _ = queue.enqueue(Self.event(UInt64(i)))
            #expect(Self.sequence(of: queue.next().item) == UInt64(i - 1))
        }
        // One waits; what was taken is dropped in batches, never all 10,000.
        #expect(queue.stored <= 64, "\(queue.stored) items held for one waiting")
        #expect(Self.sequence(of: queue.next().item) == 10_000)
    }
}
