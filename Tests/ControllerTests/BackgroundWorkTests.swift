import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import TernTestSupport
import Testing
@testable import Controller
import Platform

/// Background work runs in the Service's own task group: graceful shutdown waits
/// for what is running, and one job's failure stops nothing else.
@Suite struct BackgroundWorkTests {
    @Test("jobs run, a failing one does not stop the others, and shutdown waits for the one still running")
    func runsAndDrains() async throws {
        var logger = Logger(label: "test.work")
        logger.logLevel = .critical
        let work = BackgroundWork(logger: logger)
        let done = NIOLockedValueBox<[String]>([])
        let group = ServiceGroup(configuration: .init(services: [.init(service: work)], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            struct Failure: Error {}
            work.submit("fails") { throw Failure() }
            work.submit("quick") { done.withLockedValue { $0.append("quick") } }
            work.submit("slow") {
                done.withLockedValue { $0.append("slow started") }
                try await Task.sleep(for: .milliseconds(300))
                done.withLockedValue { $0.append("slow") }
            }
            // The quick job does not wait behind the failed one; the slow one is running.
            // Generous: at the start of the suite dozens of tests load the two cores at once.
            let started = await eventually(timeout: .seconds(30)) { done.withLockedValue { $0 }.contains("quick") && done.withLockedValue { $0 }.contains("slow started") }
            #expect(started)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        // The service returned only after the slow job finished.
        #expect(done.withLockedValue { $0 }.sorted() == ["quick", "slow", "slow started"])
    }
}
