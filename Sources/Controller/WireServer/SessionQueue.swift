import NIOCore
import Platform

/// One connection's events waiting for the session's async work (store writes, actor
/// calls), in arrival order: the rules, and nothing else. A connection with nothing
/// queued has no task; the first event queued starts one (`SessionWork`), which takes
/// events until the queue is empty and then ends.
///
/// Reading from the connection pauses while `pauseAt` events wait and resumes at
/// `resumeAt`, so an agent that sends faster than the store takes its messages
/// waits in its own TCP window, not in this process's memory.
struct SessionQueue {
    enum Item {
        case event(TransferEvent)
        /// The connection closed: the last item, always taken, even after `end()`.
        case closed
    }

    /// Waiting items from `head` on. An array rather than a ring: an idle connection's
    /// queue is empty and allocates nothing (a ring reserves its slots up front).
    private var pending: [Item] = []
    private var head = 0
    private var count: Int { self.pending.count - self.head }
    /// A task is taking events (from `enqueue` returning `start` until `next` returns nil).
    private(set) var running = false
    private(set) var paused = false
    /// Ended on purpose (refused, revoked, failed): later events are dropped.
    private(set) var ended = false
    /// Set once the handshake's admission succeeded.
    var admission: AgentSession.Admission?
    let pauseAt: Int
    let resumeAt: Int

    init(pauseAt: Int = 64, resumeAt: Int = 16) {
        precondition(resumeAt < pauseAt)
        self.pauseAt = pauseAt
        self.resumeAt = resumeAt
    }

    struct Enqueued: Equatable {
        /// Start a task to take events.
        var start = false
        /// Stop reading from the connection.
        var pause = false
    }

    mutating func enqueue(_ item: Item) -> Enqueued {
        if self.ended, case .event = item { return Enqueued() }
        self.pending.append(item)
        var result = Enqueued()
        if !self.running {
            self.running = true
            result.start = true
        }
        if !self.paused, self.count >= self.pauseAt {
            self.paused = true
            result.pause = true
        }
        return result
    }

    /// The next item for the running task, and whether reading must resume; a nil item
    /// ends the task (and `running`).
    mutating func next() -> (item: Item?, resume: Bool) {
        precondition(self.running, "next() without a running task")
        var resume = false
        if self.paused, self.count <= self.resumeAt {
            self.paused = false
            resume = true
        }
        while self.head < self.pending.count {
            let item = self.pending[self.head]
            self.head += 1
            self.compact()
            if self.ended, case .event = item { continue }
            return (item, resume)
        }
        self.pending = []
        self.head = 0
        self.running = false
        return (nil, resume)
    }

    /// Items taken stay in `pending` until it empties; a queue that never empties (a busy
    /// agent) drops them once they are as many as those waiting, so storage stays
    /// proportional to what waits.
    private mutating func compact() {
        guard self.head >= 32, self.head * 2 >= self.pending.count else { return }
        self.pending.removeFirst(self.head)
        self.head = 0
    }

    /// Items held, taken ones not yet dropped included (for tests).
    var stored: Int { self.pending.count }

    /// Drops what is queued and whatever comes later, except the close.
    mutating func end() {
        self.ended = true
    }

    /// The admission, when an event may be handled at once where it arrived: admitted,
    /// not ended, nothing queued before it and no task running (order is kept).
    var admittedAndIdle: AgentSession.Admission? {
        guard !self.running, self.count == 0, !self.ended else { return nil }
        return self.admission
    }
}
