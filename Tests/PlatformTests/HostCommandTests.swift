import Foundation
import Platform
import Testing
import Wire

@Suite("Running host programs")
struct HostCommandTests {
    @Test("output, errors and exit status are collected; a missing program is a clear failure")
    func collects() async throws {
        let outcome = try await HostCommand("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"]).run()
        #expect(outcome.status == 3 && outcome.output == "out\n" && outcome.errors == "err\n")
        await #expect(throws: HostCommand.Failure.self) { try await HostCommand("/bin/sh", ["-c", "exit 1"]).check() }
        do {
            _ = try await HostCommand("tern-no-such-program", []).run()
            Issue.record("a missing program ran")
        } catch let failure as HostCommand.Failure {
            #expect(failure.status == 127 && failure.description.contains("not installed"))
        }
        #expect(try await HostCommand("echo", ["found", "on", "PATH"]).check() == "found on PATH\n")
    }

    @Test("megabytes of output on both pipes do not stall the program")
    func largeOutput() async throws {
        let outcome = try await HostCommand("/bin/sh", ["-c", "head -c 3000000 /dev/zero | od -v | head -c 2500000; head -c 1000000 /dev/zero | od -v >&2"]).run()
        #expect(outcome.succeeded)
        #expect(outcome.output.utf8.count == 2_500_000)
        #expect(outcome.errors.utf8.count > 1_000_000)
    }

    @Test("arguments reach the program as they are, never through a shell")
    func noShell() async throws {
        let outcome = try await HostCommand("/usr/bin/printf", ["%s|", "a b", "$(reboot)", "; rm -rf /"]).check()
        #expect(outcome == "a b|$(reboot)|; rm -rf /|")
    }
}
