import Logging
import ServiceLifecycle

/// Work that outlives the message or request that started it — desired content for
/// a site that just connected, a delta to prepare after an import — submitted here
/// and run by this Service's `run()` in one task group (STYLE.md: no unstructured tasks).
/// On graceful shutdown (or cancellation of `run()`) it takes no more work and,
/// by its policy, waits for what is running or cancels it; a job's error is logged
/// with the job's name, never lost.
public final class BackgroundWork: Service, Sendable {
    /// What happens to running work when the service stops.
    public enum ShutdownPolicy: Sendable {
        /// Wait for it (the controller: an import or a delta finishes).
        case finishRunning
        /// Cancel it (the agent: a deployment waiting for its objects is asked for
        /// again by the controller at the next connection).
        case cancelRunning
    }

    private struct Job: Sendable {
        var name: String
        var body: @Sendable () async throws -> Void
    }

    private let jobs: AsyncStream<Job>
    private let submissions: AsyncStream<Job>.Continuation
    private let logger: Logger
    private let policy: ShutdownPolicy

    public init(logger: Logger, atShutdown policy: ShutdownPolicy = .finishRunning) {
        (self.jobs, self.submissions) = AsyncStream.makeStream(of: Job.self)
        self.logger = logger
        self.policy = policy
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
                    } catch is CancellationError where Task.isCancelled {
                        self.logger.debug("background work cancelled at shutdown", metadata: ["work": "\(job.name)"])
                    } catch {
                        self.logger.error("background work failed", metadata: ["work": "\(job.name)", "error": "\(error)"])
                    }
                }
            }
            if self.policy == .cancelRunning { group.cancelAll() }
        }
        self.submissions.finish()
    }
}
