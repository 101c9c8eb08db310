import Logging
import ServiceLifecycle

/// Work that outlives the message or request that started it — desired content for
/// a site that just connected, a delta to prepare after an import — submitted here
/// and run by this Service's `run()` in one task group (STYLE.md: no stray `Task {}`).
/// On graceful shutdown it takes no more work and waits for what is running; a
/// job's error is logged with the job's name, never lost.
public final class BackgroundWork: Service, Sendable {
    private struct Job: Sendable {
        var name: String
        var body: @Sendable () async throws -> Void
    }

    private let jobs: AsyncStream<Job>
    private let submissions: AsyncStream<Job>.Continuation
    private let logger: Logger

    public init(logger: Logger) {
        (self.jobs, self.submissions) = AsyncStream.makeStream(of: Job.self)
        self.logger = logger
    }

    /// Queues `body`; it starts at once, beside whatever else is running.
    public func submit(_ name: String, _ body: @escaping @Sendable () async throws -> Void) {
        self.submissions.yield(Job(name: name, body: body))
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for await job in self.jobs.cancelOnGracefulShutdown() {
                group.addTask {
                    do {
                        try await job.body()
                    } catch {
                        self.logger.error("background work failed", metadata: ["work": "\(job.name)", "error": "\(error)"])
                    }
                }
            }
        }
        self.submissions.finish()
    }
}
