/// The tasks of the protocol port's sessions: a connection gets one only while it has
/// events queued (`SessionQueue`), run as a child of one of `shards` task groups inside
/// `WireServer.run` — structured, cancelled with the server, and never one per idle
/// connection (at 20,000 agents a task each cost ~14 KiB of task stack apiece).
///
/// Several groups rather than one: a task group finds a finished child by walking its
/// list of children, so one group for a burst of thousands (the admissions of a
/// reconnect storm) made every finish walk thousands.
final class SessionWork: Sendable {
    typealias Job = @Sendable () async -> Void

    private let continuations: [AsyncStream<Job>.Continuation]
    private let streams: [AsyncStream<Job>]

    init(shards: Int = 16) {
        let pairs = (0..<max(1, shards)).map { _ in AsyncStream<Job>.makeStream() }
        self.streams = pairs.map(\.stream)
        self.continuations = pairs.map(\.continuation)
    }

    /// Runs `job` in the shard `key` picks (one connection always picks the same one).
    func submit(key: Int, _ job: @escaping Job) {
        let shard = Int(UInt(bitPattern: key) % UInt(self.continuations.count))
        self.continuations[shard].yield(job)
    }

    /// Runs the jobs submitted until `finish()`, each as its own child task.
    func run() async {
        await withDiscardingTaskGroup { group in
            for stream in self.streams {
                group.addTask {
                    await withDiscardingTaskGroup { jobs in
                        for await job in stream { jobs.addTask { await job() } }
                    }
                }
            }
        }
    }

    /// No more jobs: `run()` returns once the running ones end.
    func finish() {
        for continuation in self.continuations { continuation.finish() }
    }
}
